package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_PValueNotation: the verdict table's P column writes
// p-values as the dashboard does, three decimals and <0.001 below that;
// it printed 7.1e-06 beside 0.034, one column in two notations. A latency
// row whose 2 ms floor rules shows "+2 ms", not +1666.7% of 0.12 ms.
func TestRenderRollout_PValueNotation(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeFail, Reason: "error rate", BaselineN: 20000, CandidateN: 600,
		Metrics: []sluice.MetricVerdict{
			{Metric: "error_rate", Outcome: sluice.OutcomeFail, Baseline: 0.01, Candidate: 0.05, Effect: 0.04, Threshold: 0.005, Unit: "absolute", PValue: 7.1e-6},
			{Metric: "refusal_rate", Outcome: sluice.OutcomeInconclusive, Baseline: 0.01, Candidate: 0.02, Effect: 0.01, Threshold: 0.01, Unit: "absolute", PValue: 0.0342},
			{Metric: "latency_p99", Outcome: sluice.OutcomeInconclusive, Baseline: 3000, Candidate: 3100, Effect: 0.033, Threshold: 0.2, Unit: "relative", PValue: 1},
			{Metric: "latency_p50", Outcome: sluice.OutcomePass, Baseline: 0.12, Candidate: 0.19, Effect: 0.58, Threshold: 16.67, ThresholdMS: 2, Unit: "relative", PValue: 0.5},
		}}
	raw, _ := json.Marshal(v)
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now, LastVerdict: raw,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, want := range []string{`error_rate .* <0\.001 +FAIL`, `refusal_rate .* 0\.034 +INCONCLUSIVE`, `latency_p99 .* 1\.000 +INCONCLUSIVE`, `latency_p50 .* \+2 ms +0\.500 +PASS`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}
