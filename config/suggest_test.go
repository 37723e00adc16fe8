package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParse_UnknownKeySuggestsKnownOne: endpoint: for endpoints: in a model
// file, or a misspelt gateway key, said only that the key was unknown; it
// now names the known key of that place closest to it.
func TestParse_UnknownKeySuggestsKnownOne(t *testing.T) {
	cases := []struct {
		name, text string
		gateway    bool
		want       string
	}{
		{"ModelFileEndpoint", "models:\n  - name: chat\n    versions:\n      - version: v1\n        endpoint: [http://127.0.0.1:9]\n", false,
			"models[0].versions[0].endpoint (line 5): unknown key endpoint: did you mean endpoints?"},
		{"ModelFileTypo", "models:\n  - name: chat\n    polcy: {kind: latest}\n", false,
			"models[0].polcy (line 3): unknown key polcy: did you mean policy?"},
		{"RolloutSection", "models:\n  - name: chat\n    rollout: {strategy: canary, canary_precent: 5}\n", false,
			"models[0].rollout.canary_precent (line 3): unknown key canary_precent: did you mean canary_percent?"},
		{"GatewayNested", "timeouts:\n  conect: 5s\n", true,
			"timeouts.conect (line 2): unknown key conect: did you mean connect?"},
		{"GatewayTop", "listen: 127.0.0.1:0\nadmin_lisen: 127.0.0.1:0\n", true, "admin_lisen (line 2): unknown key admin_lisen: did you mean admin_listen?"},
		// Two letters swapped, the commonest typo, is one edit, not two: stroe
		// for store, a short key whose limit is one edit, got no suggestion.
		{"GatewaySwapped", "listen: 127.0.0.1:0\nstroe: sluice.db\n", true, "stroe (line 2): unknown key stroe: did you mean store?"},
		{"ModelFileSwapped", "models:\n  - name: chat\n    lables: {stable: v1}\n", false,
			"models[0].lables (line 3): unknown key lables: did you mean labels?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.gateway {
				_, err = config.ParseGateway("sluice.yaml", []byte(c.text))
			} else {
				_, err = config.ParseApplyDoc("models.yaml", []byte(c.text))
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to say %q", err, c.want)
			}
		})
	}
	// Nothing close: no guess, the advice as before.
	_, err := config.ParseApplyDoc("models.yaml", []byte("models:\n  - name: chat\n    zzzzzz: 1\n"))
	if err == nil || strings.Contains(err.Error(), "did you mean") || !strings.Contains(err.Error(), "check its spelling") {
		t.Errorf("an unknown key close to none: %v, want no suggestion and the advice to check its spelling", err)
	}
}
