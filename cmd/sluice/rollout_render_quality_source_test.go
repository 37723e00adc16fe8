package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_QualitySource: a quality row that compares one source
// of scores says which, so the table does not show two "quality" rows
// that disagree, and that it is a guard, as every source's row is (also
// one stored before rows carried guard, as this one).
func TestRenderRollout_QualitySource(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeFail, Reason: "quality (feedback): 0.50 vs 0.80", Metrics: []sluice.MetricVerdict{
		{Metric: "quality", Outcome: sluice.OutcomePass, Baseline: 0.85, Candidate: 0.84, Effect: -0.01, Threshold: -0.05, Unit: "absolute", PValue: 1},
		{Metric: "quality", Source: "feedback", Outcome: sluice.OutcomeFail, Baseline: 0.8, Candidate: 0.5, Effect: -0.3, Threshold: -0.05, Unit: "absolute", PValue: 0.0001},
	}}
	raw, _ := json.Marshal(v)
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now, LastVerdict: raw,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, want := range []string{`\n  quality +- +0\.85 +0\.84 .*PASS`, `\n  quality \(feedback, guard\) +- +0\.8 +0\.5 .*FAIL`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}
