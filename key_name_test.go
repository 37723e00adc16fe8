package sluice_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// A client key's name passes; a secret is refused, whether it breaks the
// name rule (Bearer sk-...) or passes it (a bare sk-... or a random key),
// and the message never repeats it.
func TestCheckKeyName(t *testing.T) {
	for _, name := range []string{"team-a", "web-app", "evals", "batch-jobs-2026", "org/team.b_2", "sk", "skunk-works",
		"a1b2c3d4e5f6a7b8c9d", "abcdefghijklmnopqrstuvwxyz", "team-2026-11-29-canary-v1.2.0",
		// Long names whose digits come in a block or two loaded before the
		// check was added: refusing them now would stop such a gateway
		// starting after an upgrade.
		"acmecorp2024production", "team2026production01x", "region2eu3west1cluster4"} {
		if err := sluice.CheckKeyName(name); err != nil {
			t.Errorf("CheckKeyName(%q) = %v; want it taken as a name", name, err)
		}
	}
	for _, c := range []struct{ secret, says string }{
		{"Bearer sk-live-abc", "is not a client key's name"},
		{"sk-live-abc0123", "looks like an API key's secret"},
		{"sk-team-a-6f1c0e9b2d7a4853", "looks like an API key's secret"},
		{"SK_proj_xyz", "looks like an API key's secret"},
		{"sk-ant-api03-AbCdEf", "looks like an API key's secret"},
		{"3f2a9c1e7b5d40c68e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b", "looks like an API key's secret"}, // openssl rand -hex 24
		{"team-a-Zx81Qp02Lm55Rt7YvW3k", "looks like an API key's secret"},
		{sluice.HashSecret("x"), "looks like an API key's secret"},
	} {
		err := sluice.CheckKeyName(c.secret)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("CheckKeyName(%q) = %v; want a refusal saying %q", c.secret, err, c.says)
			continue
		}
		if strings.Contains(err.Error(), c.secret) || !strings.Contains(err.Error(), "client_keys") {
			t.Errorf("CheckKeyName(%q): %v; want the key's name asked for and the value not repeated", c.secret, err)
		}
	}
}
