package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
)

func TestParseGateway_Reliability(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, []byte("x"), 0o644)
	os.WriteFile(key, []byte("x"), 0o600)
	const secret = "sk-a-long-enough-secret-42"
	t.Run("OK", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte(`
admin_listen: 127.0.0.1:9090
outlier_ejection: {consecutive_failures: 3, cooldown: 30s}
request_log: {retention: 744h}
client_keys:
  - {name: app, secret: "`+secret+`", models: [chat], rate_limit: 2.5, tokens_per_minute: 100000, token_budget: 50000000, budget_period: month}
  - {name: ops, sha256: `+sluice.HashSecret("another-secret-0123")+`, force_version: true}
tls: {cert_file: `+cert+`, key_file: `+key+`}
`))
		if err != nil {
			t.Fatal(err)
		}
		o := g.OutlierEjection
		if o.ConsecutiveFailures != 3 || o.Cooldown != 30*time.Second || o.FailureRate != 0.5 || o.MinRequests != 20 || o.Window != 10*time.Second || o.MaxCooldown != 5*time.Minute {
			t.Errorf("outlier_ejection with defaults: %+v", o)
		}
		if g.ClientKeys[0].Hash() != sluice.HashSecret(secret) || g.ClientKeys[1].Hash() != sluice.HashSecret("another-secret-0123") {
			t.Error("key hashes")
		}
		if g.ClientKeys[0].TokensPerMinute != 100000 || g.ClientKeys[1].TokensPerMinute != 0 {
			t.Errorf("tokens_per_minute: %d and %d, want 100000 and 0 (no limit)", g.ClientKeys[0].TokensPerMinute, g.ClientKeys[1].TokensPerMinute)
		}
		if k := g.ClientKeys[0]; k.TokenBudget != 50000000 || k.BudgetPeriod != "month" {
			t.Errorf("token_budget and budget_period: %d %q, want 50000000 month", k.TokenBudget, k.BudgetPeriod)
		}
		if g.AdminTLSConfig() != g.TLS {
			t.Error("admin_tls does not default to tls")
		}
	})
	for _, c := range []struct{ name, yaml, want string }{
		{"KeyNoSecret", `client_keys: [{name: app}]`, "client_keys[0]: give exactly one of secret"},
		// "token" is what the proxy names an admin token used as a data
		// plane key without force: a key of that name would own, and act
		// on, the Responses API responses such tokens made, and they its.
		{"KeyNamedToken", `client_keys: [{name: token, secret: "` + secret + `"}]`, `client_keys[0].name: "token" is reserved`},
		// A name that looks like a secret could never be given to sluice
		// usage --key or requests --key, which refuse such values.
		{"KeyNamedLikeASecret", `client_keys: [{name: sk-batch, secret: "` + secret + `"}]`, `client_keys[0].name: looks like an API key's secret`},
		{"KeyNamedLikeARandomKey", `client_keys: [{name: team-9f3a1c7e5b2d4f6a8c0e, secret: "` + secret + `"}]`, `client_keys[0].name: looks like an API key's secret`},
		{"KeyBoth", `client_keys: [{name: app, secret: "` + secret + `", sha256: ` + sluice.HashSecret("x") + `}]`, "exactly one of"},
		{"KeyShortSecret", `client_keys: [{name: app, secret: "short"}]`, "client_keys[0].secret: shorter than 16"},
		{"KeyBadHash", `client_keys: [{name: app, sha256: xyz}]`, "client_keys[0].sha256: must be 64 hex digits"},
		// The error says how to make the hash (it said only "the SHA-256 of
		// the key", and the README's example was a placeholder).
		{"KeyBadHashSaysHow", `client_keys: [{name: app, sha256: xyz}]`, `printf %s "$KEY" | sha256sum`},
		{"KeyDuplicateName", `client_keys: [{name: app, secret: "` + secret + `"}, {name: app, secret: "` + secret + `x"}]`, `client_keys[1].name: "app" is declared twice`},
		{"KeyDuplicateSecret", `client_keys: [{name: a, secret: "` + secret + `"}, {name: b, secret: "` + secret + `"}]`, "client_keys[1]: has the same secret as a"},
		{"KeyBadModel", `client_keys: [{name: app, secret: "` + secret + `", models: ["ch at"]}]`, "client_keys[0].models[0]"},
		{"KeyNegativeRate", `client_keys: [{name: app, secret: "` + secret + `", rate_limit: -1}]`, "client_keys[0].rate_limit"},
		// A burst is of a rate limit: alone it limited nothing, silently
		// (the API refuses it: sluice key create --burst without
		// --rate-limit).
		{"KeyBurstWithoutRate", `client_keys: [{name: app, secret: "` + secret + `", burst: 100}]`, "client_keys[0].burst: 100 is the requests allowed at once above rate_limit, and this key has no rate_limit: give a rate_limit too, or leave burst out"},
		{"KeyNegativeTokens", `client_keys: [{name: app, secret: "` + secret + `", tokens_per_minute: -5}]`, "client_keys[0].tokens_per_minute: -5 must be between 1 and 1000000000"},
		{"KeyHugeTokens", `client_keys: [{name: app, secret: "` + secret + `", tokens_per_minute: 2000000000}]`, "client_keys[0].tokens_per_minute"},
		// The budget is summed from the request log: a month's under the
		// default retention (a week) would hold a quarter of its use.
		{"KeyMonthBudgetShortRetention", `client_keys: [{name: app, secret: "` + secret + `", token_budget: 5000, budget_period: month}]`,
			"client_keys[0].budget_period month is longer than the request log keeps its rows (request_log.retention 168h0m0s)"},
		{"KeyMonthBudgetRetentionTooShort", "request_log: {retention: 720h}\nclient_keys: [{name: app, secret: \"" + secret + "\", token_budget: 5000, budget_period: month}]",
			"set request_log.retention to at least 744h0m0s (or keep: true)"},
		{"KeyBudgetNoPeriod", `client_keys: [{name: app, secret: "` + secret + `", token_budget: 5000}]`, "client_keys[0].budget_period is missing"},
		{"KeyPeriodNoBudget", `client_keys: [{name: app, secret: "` + secret + `", budget_period: week}]`, "client_keys[0].token_budget is missing"},
		{"KeyBadPeriod", `client_keys: [{name: app, secret: "` + secret + `", token_budget: 5000, budget_period: fortnight}]`, `client_keys[0].budget_period "fortnight" is not day, week or month`},
		{"KeyNegativeBudget", `client_keys: [{name: app, secret: "` + secret + `", token_budget: -1, budget_period: day}]`, "client_keys[0].token_budget -1 must be between 1 and"},
		{"EjectionRate", `outlier_ejection: {failure_rate: 1.5}`, "outlier_ejection.failure_rate"},
		{"EjectionNegative", `outlier_ejection: {cooldown: -1s}`, "outlier_ejection.cooldown"},
		{"TLSHalf", `tls: {cert_file: ` + cert + `}`, "tls: give both cert_file and key_file"},
		{"TLSMissingFile", `tls: {cert_file: ` + cert + `, key_file: /nonexistent/k.pem}`, "tls.key_file"},
		{"AdminTLSWithoutListen", `admin_tls: {cert_file: ` + cert + `, key_file: ` + key + `}`, "admin_tls: set admin_listen"},
	} {
		t.Run("Err"+c.name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
