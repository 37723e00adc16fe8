package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_TokenBudgetSuffixes: a client key's token_budget in the
// config file is read as the CLI's --token-budget is (sluice.ParseTokens):
// 50M, 1.5k, 2G or a whole number. It took a whole number only, so the
// README's `sluice key create --token-budget 50M` could not be copied into
// client_keys, and "50M" failed as "is not a whole number".
func TestParseGateway_TokenBudgetSuffixes(t *testing.T) {
	const secret = "sk-a-long-enough-secret-42"
	t.Setenv("SLUICE_TEST_BUDGET", "1.5k")
	t.Run("OK", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte(`
client_keys:
  - {name: a, secret: "`+secret+`a", token_budget: 50M, budget_period: week}
  - {name: b, secret: "`+secret+`b", token_budget: 1.5k, budget_period: day}
  - {name: c, secret: "`+secret+`c", token_budget: 2G, budget_period: day}
  - {name: d, secret: "`+secret+`d", token_budget: 50000000, budget_period: day}
  - {name: e, secret: "`+secret+`e", token_budget: "4.1M", budget_period: day}
  - name: f
    secret: "`+secret+`f"
    token_budget: ${SLUICE_TEST_BUDGET}
    budget_period: day
  - {name: g, secret: "`+secret+`g"}
`))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"a": 50_000_000, "b": 1500, "c": 2_000_000_000, "d": 50_000_000, "e": 4_100_000, "f": 1500, "g": 0}
		for _, k := range g.ClientKeys {
			if int64(k.TokenBudget) != want[k.Name] {
				t.Errorf("key %s: token_budget %d, want %d", k.Name, k.TokenBudget, want[k.Name])
			}
		}
	})
	for _, c := range []struct{ name, budget, want string }{
		{"Word", "fifty", "client_keys[1].token_budget (line 3): fifty is not a number of tokens: write a whole number, or one with k, M or G, such as 50M"},
		{"NotWhole", "1.2345k", "client_keys[1].token_budget (line 3): 1.2345k is not a number of tokens"},
		{"Fraction", "2.5", "client_keys[1].token_budget (line 3): 2.5 is not a number of tokens"},
		{"Unit", "50MB", "client_keys[1].token_budget (line 3): 50MB is not a number of tokens"},
		{"List", "[50M]", "client_keys[1].token_budget (line 3): a list is not a number of tokens"},
		{"Empty", `""`, `client_keys[1].token_budget (line 3): "" is not a number of tokens`},
		// Read, then checked as any budget is: the same message as the API's.
		{"Negative", "-5M", "client_keys[1].token_budget -5000000 must be between 1 and"},
		{"Huge", "2000000G", "client_keys[1].token_budget 2000000000000000 must be between 1 and"},
	} {
		t.Run("Err"+c.name, func(t *testing.T) {
			text := "client_keys:\n  - {name: ok, secret: \"" + secret + "\", token_budget: 5M, budget_period: day}\n" +
				"  - {name: app, secret: \"" + secret + "x\", token_budget: " + c.budget + ", budget_period: day}\n"
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

// TestParseGateway_TokenBudgetYAMLNumbers: before token_budget took 50M,
// it was a YAML integer, so a file could write it as YAML writes numbers:
// 50_000_000, 5e7, 0x2FAF080. Read by sluice.ParseTokens alone, those
// failed to load ("is not a number of tokens"), so a config that ran
// before the upgrade stopped the gateway after it. They are still read,
// as YAML reads them; a YAML number that is not whole (2.5, 1.5e3 is
// whole) is refused, where the int64 cut it silently.
func TestParseGateway_TokenBudgetYAMLNumbers(t *testing.T) {
	const secret = "sk-a-long-enough-secret-42"
	for _, c := range []struct {
		budget string
		want   int64
	}{{"50_000_000", 50_000_000}, {"5e7", 50_000_000}, {"0x2FAF080", 50_000_000}, {"1.5e3", 1500}, {"+2_000", 2000}} {
		t.Run(c.budget, func(t *testing.T) {
			g, err := config.ParseGateway("g.yaml", []byte("client_keys:\n  - {name: a, secret: \""+secret+"\", token_budget: "+c.budget+", budget_period: day}\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := int64(g.ClientKeys[0].TokenBudget); got != c.want {
				t.Errorf("token_budget %s read as %d, want %d", c.budget, got, c.want)
			}
		})
	}
	for _, budget := range []string{"2.5", "1.5e0", ".inf", ".nan", "1e30", `"50_000_000"`} {
		t.Run("Err"+budget, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte("client_keys:\n  - {name: a, secret: \""+secret+"\", token_budget: "+budget+", budget_period: day}\n"))
			if err == nil || !strings.Contains(err.Error(), "client_keys[0].token_budget (line 2): ") || !strings.Contains(err.Error(), "is not a number of tokens") {
				t.Fatalf("token_budget %s: err = %v, want one naming client_keys[0].token_budget", budget, err)
			}
		})
	}
}
