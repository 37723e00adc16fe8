package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_TokensPerMinuteSuffixes: a client key's
// tokens_per_minute is read as its token_budget is (config.Tokens, and so
// sluice.ParseTokens): 200k, 1.5k, 2G or a whole number, and the YAML
// numbers it took when it was an int64 (60_000, 6e4, 0xEA60) still load.
// It took a whole number only, so `tokens_per_minute: 200k` beside
// `token_budget: 50M` failed as "is not a whole number".
func TestParseGateway_TokensPerMinuteSuffixes(t *testing.T) {
	const secret = "sk-a-long-enough-secret-42"
	t.Setenv("SLUICE_TEST_TPM", "1.5k")
	t.Run("OK", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte(`
client_keys:
  - {name: a, secret: "`+secret+`a", tokens_per_minute: 200k}
  - {name: b, secret: "`+secret+`b", tokens_per_minute: 1.5k}
  - {name: c, secret: "`+secret+`c", tokens_per_minute: 0.5M}
  - {name: d, secret: "`+secret+`d", tokens_per_minute: 200000}
  - {name: e, secret: "`+secret+`e", tokens_per_minute: "4.1M"}
  - name: f
    secret: "`+secret+`f"
    tokens_per_minute: ${SLUICE_TEST_TPM}
  - {name: g, secret: "`+secret+`g"}
  - {name: h, secret: "`+secret+`h", tokens_per_minute: 60_000}
  - {name: i, secret: "`+secret+`i", tokens_per_minute: 6e4}
  - {name: j, secret: "`+secret+`j", tokens_per_minute: 0xEA60}
  - {name: k, secret: "`+secret+`k", tokens_per_minute: 1G}
`))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"a": 200_000, "b": 1500, "c": 500_000, "d": 200_000, "e": 4_100_000, "f": 1500, "g": 0,
			"h": 60_000, "i": 60_000, "j": 60_000, "k": 1_000_000_000}
		for _, k := range g.ClientKeys {
			if int64(k.TokensPerMinute) != want[k.Name] {
				t.Errorf("key %s: tokens_per_minute %d, want %d", k.Name, k.TokensPerMinute, want[k.Name])
			}
		}
	})
	for _, c := range []struct{ name, tpm, want string }{
		{"Word", "lots", "client_keys[1].tokens_per_minute (line 3): lots is not a number of tokens: write a whole number, or one with k, M or G, such as 50M"},
		{"NotWhole", "1.2345k", "client_keys[1].tokens_per_minute (line 3): 1.2345k is not a number of tokens"},
		{"Fraction", "2.5", "client_keys[1].tokens_per_minute (line 3): 2.5 is not a number of tokens"},
		{"Unit", "200kt", "client_keys[1].tokens_per_minute (line 3): 200kt is not a number of tokens"},
		{"List", "[200k]", "client_keys[1].tokens_per_minute (line 3): a list is not a number of tokens"},
		{"Quoted", `"60_000"`, "client_keys[1].tokens_per_minute (line 3): 60_000 is not a number of tokens"},
		// Read, then bounded as before.
		{"Negative", "-5k", "client_keys[1].tokens_per_minute: -5000 must be between 1 and 1000000000"},
		{"Huge", "2G", "client_keys[1].tokens_per_minute: 2000000000 must be between 1 and 1000000000"},
	} {
		t.Run("Err"+c.name, func(t *testing.T) {
			text := "client_keys:\n  - {name: ok, secret: \"" + secret + "\", tokens_per_minute: 5k}\n" +
				"  - {name: app, secret: \"" + secret + "x\", tokens_per_minute: " + c.tpm + "}\n"
			_, err := config.ParseGateway("g.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "client_keys[1].secret") || strings.Contains(err.Error(), "config.Tokens") {
				t.Errorf("the error blames another key or names a Go type: %v", err)
			}
		})
	}
}

// TestParseTokens: the CLI's --token-budget and --tokens-per-minute read
// what the config file's token_budget and tokens_per_minute read, through
// the same parser: the suffixes, and the YAML numbers the file took
// before them (50_000_000, 5e7). The CLI took sluice.ParseTokens's forms
// alone, so a value copied from a config file (50_000_000) was refused.
func TestParseTokens(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"50M", 50_000_000}, {"1.5k", 1500}, {"2G", 2_000_000_000}, {"200000", 200_000}, {" 200k ", 200_000},
		{"50_000_000", 50_000_000}, {"5e7", 50_000_000}, {"0x2FAF080", 50_000_000}, {"1.5e3", 1500}, {"+2_000", 2000}, {"0", 0}, {"-5", -5},
	} {
		got, err := config.ParseTokens(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseTokens(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "fifty", "2.5", "1.5e0", "50MB", `"50_000_000"`, "[50M]", ".inf", "1e30", "50M # x", "a: 5"} {
		if got, err := config.ParseTokens(in); err == nil || !strings.Contains(err.Error(), "is not a number of tokens: give a whole number, or one with k, M or G, such as 50M") {
			t.Errorf("ParseTokens(%q) = %d, %v; want the error saying what to write", in, got, err)
		}
	}
}
