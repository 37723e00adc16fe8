package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParse_ErrorNamesKeyInFlowMapping: the README writes splits and
// client keys as flow mappings, several keys on one line. A value of the
// wrong type there was blamed on the line's first key ("policy.kind: abc
// is not a number" for a bad percent), and an unknown key was reported
// with the Go type it was decoded into ("field polcy not found in type
// sluice.ApplyModel"). Each error now names the key as written in the file.
func TestParse_ErrorNamesKeyInFlowMapping(t *testing.T) {
	cases := []struct {
		name, text string
		gateway    bool
		want       string
		notWant    string
	}{
		{"SplitPercent", "models:\n  - name: chat\n    policy: {kind: split, split: [{version: v1.0.0, percent: abc}]}\n", false,
			"models[0].policy.split[0].percent (line 3): abc is not a number", "policy.kind"},
		{"LongValueCut", "models:\n  - name: chat\n    policy: {kind: split, split: [{version: v1.0.0, percent: abcdefghijklmnop}]}\n", false,
			"models[0].policy.split[0].percent (line 3)", "policy.kind"},
		{"ClientKeyRateLimit", "client_keys:\n  - {name: web-app, secret: s3cret, models: [chat], rate_limit: fifty, burst: 100}\n", true,
			"client_keys[0].rate_limit (line 2): fifty is not a number", "client_keys[0].name"},
		{"BlockStillNamed", "timeouts:\n  connect: 5\n", true,
			"timeouts.connect (line 2): 5 is not a duration", ""},
		{"UnknownModelKey", "models:\n  - name: chat\n    polcy: {kind: latest}\n", false,
			"models[0].polcy (line 3): unknown key polcy", "sluice.ApplyModel"},
		{"UnknownNestedGatewayKey", "timeouts:\n  conect: 5s\n", true,
			"timeouts.conect (line 2): unknown key conect", "config."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.gateway {
				_, err = config.ParseGateway("sluice.yaml", []byte(c.text))
			} else {
				_, err = config.ParseApplyDoc("models.yaml", []byte(c.text))
			}
			if err == nil {
				t.Fatalf("%q loaded, want an error", c.text)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if c.notWant != "" && strings.Contains(err.Error(), c.notWant) {
				t.Errorf("error %q names %q, which is not where the mistake is", err, c.notWant)
			}
		})
	}
}
