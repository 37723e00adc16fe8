package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParseApplyDoc_GuardsOnRolling: a model file whose rollout: section
// asks for the rolling strategy and names analysis.guards was accepted,
// and the rollout it started judged none of them (rolling has no
// analysis). sluice apply now refuses the file before sending it, naming
// the key and its line, what rolling judges and what to use instead. An
// A/B test's guards load: its guardrail judges them.
func TestParseApplyDoc_GuardsOnRolling(t *testing.T) {
	file := func(strategy string) []byte {
		return []byte(`models:
  - name: chat
    versions:
      - {version: v1, endpoints: ["http://127.0.0.1:9/v1"]}
    target: v1
    rollout:
      strategy: ` + strategy + `
      analysis:
        interval: 10s
        guards: [latency_p99, ttft]
`)
	}
	_, err := config.ParseApplyDoc("models.yaml", file("rolling"))
	want := "models.yaml: models[0].rollout.analysis.guards (line 10): a rolling rollout judges no guards (latency_p99, ttft)"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "--strategy canary or progressive") {
		t.Fatalf("err = %v, want %q and what to use instead", err, want)
	}
	for _, strategy := range []string{"abtest", "canary", `""`} {
		if _, err := config.ParseApplyDoc("models.yaml", file(strategy)); err != nil {
			t.Errorf("strategy %s with guards: %v", strategy, err)
		}
	}
}
