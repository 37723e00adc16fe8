package main

import (
	"strings"
	"testing"
)

// TestServe_BudgetErrorNamesFile: sluice serve refusing a config file names
// the file before the key ("sluice.yaml: client_keys[0].rate_limit: …");
// a client key's token budget errors lost it ("error: client_keys[0].
// budget_period is missing: …"), as they are the admin API's error type,
// whose message alone the CLI prints. They name the file as the others do.
func TestServe_BudgetErrorNamesFile(t *testing.T) {
	const secret = "0123456789abcdef0123"
	for _, c := range []struct{ keys, want string }{
		{`[{name: a, secret: "` + secret + `", token_budget: 50M}]`, "sluice.yaml: client_keys[0].budget_period is missing"},
		{`[{name: a, secret: "` + secret + `", budget_period: week}]`, "sluice.yaml: client_keys[0].token_budget is missing"},
		{`[{name: a, secret: "` + secret + `", token_budget: 5000, budget_period: month}]`, "sluice.yaml: client_keys[0].budget_period month is longer than the request log keeps its rows"},
	} {
		dir := t.TempDir()
		cfg := gatewayConfig(t, dir, "listen: 127.0.0.1:0\nstore: DIR/sluice.db\nclient_keys: "+c.keys+"\n")
		_, stderr, code := run(t, "serve", "-c", cfg)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("client_keys %s: exit %d, stderr %q; want %q", c.keys, code, stderr, c.want)
		}
	}
}
