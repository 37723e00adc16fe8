package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_TwoSidedThreshold: a metric held within its threshold
// both ways (output tokens, response length, the tool-call rate) shows the
// threshold as ±x, as the verdict's detail says it; one bounded on the worse
// side only keeps its sign. The table printed +0.16 for the tool-call rate.
func TestRenderRollout_TwoSidedThreshold(t *testing.T) {
	now := time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeFail, Reason: "tool-call rate: 40.0% vs 80.0%", BaselineN: 20000, CandidateN: 600,
		Metrics: []sluice.MetricVerdict{
			{Metric: "error_rate", Outcome: sluice.OutcomePass, Baseline: 0.01, Candidate: 0.011, Effect: 0.001, Threshold: 0.005, Unit: "absolute"},
			{Metric: "latency_p99", Outcome: sluice.OutcomePass, Baseline: 3000, Candidate: 3100, Effect: 0.033, Threshold: 0.2, Unit: "relative"},
			{Metric: "output_tokens", Outcome: sluice.OutcomePass, Baseline: 180, Candidate: 170, Effect: -0.055, Threshold: 0.5, Unit: "relative"},
			{Metric: "response_chars", Outcome: sluice.OutcomePass, Baseline: 900, Candidate: 850, Effect: -0.055, Threshold: 0.5, Unit: "relative"},
			{Metric: "tool_call_rate", Outcome: sluice.OutcomeFail, Baseline: 0.8, Candidate: 0.4, Effect: -0.4, Threshold: 0.16, Unit: "absolute"},
			{Metric: "tool_call_rate", Category: "payments", Outcome: sluice.OutcomeFail, Baseline: 0.9, Candidate: 0.5, Effect: -0.4, Threshold: 0.18, Unit: "absolute"},
		}}
	raw, _ := json.Marshal(v)
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now, LastVerdict: raw,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, want := range []string{
		`error_rate +- +1% +1\.1% +\+0\.10pts +\+0\.50pts `,
		`latency_p99 +- +3000ms +3100ms +\+3\.3% +\+20\.0% `,
		`output_tokens +- +180 +170 +-5\.5% +±50\.0% `,
		`response_chars +- +900 +850 +-5\.5% +±50\.0% `,
		`tool_call_rate +- +80% +40% +-40\.00pts +±16\.00pts `,
		`tool_call_rate +payments +90% +50% +-40\.00pts +±18\.00pts `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}
