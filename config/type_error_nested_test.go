package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParse_ListOrMapWhereAnotherGoes: a map written where a list goes (a
// split as {v1: 95, v2: 5}, the way LiteLLM and Argo write weights), a
// list where a map goes (labels: [stable]), or either where a scalar goes
// was reported as yaml put it, "line 3: cannot unmarshal !!map into
// []sluice.Weight": no key, a Go type, nothing to write instead. yaml
// writes no value for a list or a map, which the rewrite's pattern
// required. Each now names the key and what to write.
func TestParse_ListOrMapWhereAnotherGoes(t *testing.T) {
	cases := []struct {
		name, text string
		gateway    bool
		want       string
	}{
		{"SplitAsMap", "models:\n  - name: chat\n    policy: {kind: split, split: {v1: 95, v2: 5}}\n", false,
			"models[0].policy.split (line 3): a map is not a list: write it as [a, b] or as lines starting with -"},
		{"SplitAsBlockMap", "models:\n  - name: chat\n    policy:\n      kind: split\n      split:\n        v1: 95\n", false,
			"models[0].policy.split (line 6): a map is not a list"},
		{"LabelsAsList", "models:\n  - name: chat\n    labels: [stable]\n", false,
			"models[0].labels (line 3): a list is not a map: write it as {name: value} or as indented name: value lines"},
		{"DurationAsList", "timeouts:\n  connect: [5s]\n", true,
			"timeouts.connect (line 2): a list is not a duration"},
		{"StickyHeadersAsMap", "sticky_headers: {X-User-Id: true}\n", true,
			"sticky_headers (line 1): a map is not a list"},
		// A wrong map holding a map on its line: the outer one is the
		// wrong one (yaml never looked inside it), not the deepest.
		{"BackendsAsMapWithHeaders", "backends: {url: http://x, headers: {A: b}}\n", true,
			"backends (line 1): a map is not a list"},
		{"ModelsAsMapWithPolicy", "models: {name: chat, policy: {kind: split}}\n", false,
			"models (line 1): a map is not a list"},
		{"RulesAsMapWithMatch", "models:\n  - name: chat\n    rules: {match: {headers: {X-Tier: gold}}, version: v2}\n", false,
			"models[0].rules (line 3): a map is not a list"},
		{"SplitAsMapOfMaps", "models:\n  - name: chat\n    policy: {kind: split, split: {v1: {percent: 95}}}\n", false,
			"models[0].policy.split (line 3): a map is not a list"},
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
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "unmarshal") {
				t.Errorf("error %q, want one saying %q", err, c.want)
			}
		})
	}
}
