package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout: the watch view shows the stage, the split, a progress
// bar toward the stage's sample and the verdict table.
func TestRenderRollout(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeInconclusive, Reason: "collecting data", BaselineN: 400, CandidateN: 50, NeedSamples: 100,
		Metrics: []sluice.MetricVerdict{{Metric: "error_rate", Outcome: sluice.OutcomePass, Baseline: 0.01, Candidate: 0.012, Unit: "absolute"},
			{Metric: "refusal_rate", Category: "payments", Outcome: sluice.OutcomeFail, Baseline: 0.02, Candidate: 0.3, Unit: "absolute"}}}
	raw, _ := json.Marshal(v)
	st := api.RolloutStatus{
		Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, StageIndex: 1, Percent: 5, StageStartedAt: now.Add(-time.Minute), LastVerdict: raw,
			Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyProgressive,
				Stages: []sluice.RolloutStage{{Percent: 2, Hold: sluice.Duration(time.Minute)}, {Percent: 5, Hold: sluice.Duration(5 * time.Minute)}, {Percent: 100}}}},
		Verdict: &v, Policy: "split v1=95 v2=5", StageSamples: 50, StageNeed: 100,
	}
	out := renderRollout(st, now)
	for _, want := range []string{
		"Policy:    split v1=95 v2=5",
		"candidate 5%",
		"✔2% ►5%  100%",
		"Hold:      1m0s of 5m0s",
		"Sample:    " + bar(50, 30) + "  50 of 100 candidate requests",
		"Verdict:   INCONCLUSIVE (baseline n=400, candidate n=50)",
		"refusal_rate  payments",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}

// TestStepTime: a drill's steps are shown to about four significant
// digits whatever their size; one rounding to 100 µs printed 4.4677s
// beside 630.1ms.
func TestStepTime(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{4467712 * time.Microsecond, "4.468s"},
		{630123 * time.Microsecond, "630.1ms"},
		{12345678 * time.Nanosecond, "12.35ms"},
		{1612345 * time.Nanosecond, "1.612ms"},
		{85432 * time.Nanosecond, "85µs"},
		{12345678 * time.Microsecond, "12.35s"},
	} {
		if got := stepTime(tc.d).String(); got != tc.want {
			t.Errorf("stepTime(%v) = %s, want %s", tc.d, got, tc.want)
		}
	}
}
