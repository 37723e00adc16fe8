package main

import (
	"maps"
	"testing"
)

func TestParseLabels(t *testing.T) {
	got, err := parseLabels([]string{"canary=v1.2.0", "old-", "beta=v1.1.0"})
	if want := map[string]string{"canary": "v1.2.0", "old": "", "beta": "v1.1.0"}; err != nil || !maps.Equal(got, want) {
		t.Errorf("parseLabels = %v, %v; want %v", got, err, want)
	}
	for _, bad := range [][]string{{"canary"}, {"canary="}, {"-"}, {"a=v1", "a=v2"}, {"a=v1", "a-"}} {
		if got, err := parseLabels(bad); err == nil {
			t.Errorf("parseLabels(%q) = %v, want an error", bad, got)
		}
	}
}
