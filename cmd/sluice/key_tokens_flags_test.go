package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/api"
)

// listedKey returns the key name as sluice key list -o json shows it.
func listedKey(t *testing.T, cmd func(args ...string) []string, name string) api.KeyView {
	t.Helper()
	var l api.KeyList
	if err := json.Unmarshal([]byte(mustRun(t, cmd("key", "list", "-o", "json")...)), &l); err != nil {
		t.Fatal(err)
	}
	for _, k := range l.Keys {
		if k.Name == name {
			return k
		}
	}
	t.Fatalf("no key %s listed", name)
	return api.KeyView{}
}

// refusedUnchanged runs each command, wanting it refused saying want, and
// the keys unchanged after them all.
func refusedUnchanged(t *testing.T, cmd func(args ...string) []string, cases []struct {
	args []string
	want string
}) {
	t.Helper()
	before := mustRun(t, cmd("key", "list", "-o", "json")...)
	for _, c := range cases {
		_, errOut, code := run(t, cmd(append(c.args, "--reason", "try")...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d %q, want an error saying %q", c.args, code, errOut, c.want)
		}
	}
	if after := mustRun(t, cmd("key", "list", "-o", "json")...); !sameKeyList(before, after) {
		t.Errorf("refused commands changed the keys:\n%s\nwas\n%s", after, before)
	}
}

// TestCLI_KeyTokensPerMinuteSuffixes: sluice key create and update read
// --tokens-per-minute as the config file reads its tokens_per_minute and
// token_budget (config.ParseTokens): 200k, 1.5k, or a YAML number such as
// 60_000, so a value copied from a client_keys entry works on the command
// line. It took a whole number alone ("200k" was "invalid syntax"). Bad
// values are refused naming the flag, with nothing written.
func TestCLI_KeyTokensPerMinuteSuffixes(t *testing.T) {
	_, _, cmd := keyedGateway(t)
	out := mustRun(t, cmd("key", "create", "team-t", "--tokens-per-minute", "200k", "--reason", "onboard team t")...)
	if !strings.Contains(out, "200000 tokens/min") {
		t.Errorf("key create said %q, want 200000 tokens/min", out)
	}
	if k := listedKey(t, cmd, "team-t"); k.TokensPerMinute != 200_000 {
		t.Errorf("key created with --tokens-per-minute 200k: tokens_per_minute %d", k.TokensPerMinute)
	}
	mustRun(t, cmd("key", "update", "team-t", "--tokens-per-minute", "1.5k", "--reason", "less")...)
	if k := listedKey(t, cmd, "team-t"); k.TokensPerMinute != 1500 {
		t.Errorf("key updated with --tokens-per-minute 1.5k: tokens_per_minute %d", k.TokensPerMinute)
	}
	mustRun(t, cmd("key", "update", "team-t", "--tokens-per-minute", "60_000", "--reason", "more")...)
	if k := listedKey(t, cmd, "team-t"); k.TokensPerMinute != 60_000 {
		t.Errorf("key updated with --tokens-per-minute 60_000: tokens_per_minute %d", k.TokensPerMinute)
	}
	refusedUnchanged(t, cmd, []struct {
		args []string
		want string
	}{
		{[]string{"key", "create", "bad", "--tokens-per-minute", "lots"}, `--tokens-per-minute: "lots" is not a number of tokens: give a whole number, or one with k, M or G`},
		{[]string{"key", "create", "bad", "--tokens-per-minute", "2.5"}, `--tokens-per-minute: "2.5" is not a number of tokens`},
		{[]string{"key", "update", "team-t", "--tokens-per-minute", "200kt"}, `--tokens-per-minute: "200kt" is not a number of tokens`},
		{[]string{"key", "update", "team-t", "--tokens-per-minute", ""}, `--tokens-per-minute: "" is not a number of tokens`},
		{[]string{"key", "update", "team-t", "--tokens-per-minute", "2G"}, "tokens_per_minute 2000000000 must be between 1 and 1000000000"},
	})
}

// TestCLI_KeyTokenBudgetYAMLNumbers: sluice key create and update read
// --token-budget as the config file reads token_budget (config.ParseTokens),
// the YAML numbers a file takes (50_000_000, 2e7) with 50M and 1.5k. The
// CLI read sluice.ParseTokens's forms alone, so 50_000_000, copied from a
// client_keys entry that loads, was "not a number of tokens". What the
// file refuses the flag refuses too (a quoted "50_000_000" is text; 1.5e0
// is not whole), naming the flag, with nothing written.
func TestCLI_KeyTokenBudgetYAMLNumbers(t *testing.T) {
	_, _, cmd := keyedGateway(t)
	mustRun(t, cmd("key", "create", "team-y", "--token-budget", "50_000_000", "--budget-period", "day", "--reason", "onboard team y")...)
	if k := listedKey(t, cmd, "team-y"); k.TokenBudget != 50_000_000 {
		t.Errorf("key created with --token-budget 50_000_000: token_budget %d", k.TokenBudget)
	}
	mustRun(t, cmd("key", "update", "team-y", "--token-budget", "2e7", "--reason", "less")...)
	if k := listedKey(t, cmd, "team-y"); k.TokenBudget != 20_000_000 {
		t.Errorf("key updated with --token-budget 2e7: token_budget %d", k.TokenBudget)
	}
	mustRun(t, cmd("key", "update", "team-y", "--token-budget", "1.5k", "--reason", "a trickle")...)
	if k := listedKey(t, cmd, "team-y"); k.TokenBudget != 1500 {
		t.Errorf("key updated with --token-budget 1.5k: token_budget %d", k.TokenBudget)
	}
	refusedUnchanged(t, cmd, []struct {
		args []string
		want string
	}{
		{[]string{"key", "create", "bad", "--token-budget", `"50_000_000"`, "--budget-period", "day"}, `--token-budget: "\"50_000_000\"" is not a number of tokens: give a whole number, or one with k, M or G`},
		{[]string{"key", "update", "team-y", "--token-budget", "1.5e0"}, `--token-budget: "1.5e0" is not a number of tokens`},
		{[]string{"key", "update", "team-y", "--token-budget", "lots"}, `--token-budget: "lots" is not a number of tokens`},
	})
}
