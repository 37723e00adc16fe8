package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_InfiniteEffect: a relative change from a baseline of
// 0 is infinite, which the verdict carries as ±math.MaxFloat64 (JSON has
// no infinity); the table reads +inf, not +Inf% or +1.798e+308.
func TestRenderRollout_InfiniteEffect(t *testing.T) {
	now := time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeFail, BaselineN: 100, CandidateN: 100,
		Metrics: []sluice.MetricVerdict{
			{Metric: "latency_p99", Outcome: sluice.OutcomeFail, Baseline: 0, Candidate: 30, Effect: math.MaxFloat64, Threshold: 0.2, Unit: "relative", BaselineN: 100, CandidateN: 100},
			{Metric: "quality", Outcome: sluice.OutcomeFail, Baseline: 0, Candidate: 30, Effect: -math.MaxFloat64, Threshold: 0.2, Unit: "absolute", BaselineN: 100, CandidateN: 100},
		}}
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(line, "latency_p99") && !strings.Contains(line, " +inf "):
			t.Errorf("latency_p99's infinite effect is not +inf: %q", line)
		case strings.Contains(line, "quality") && strings.Contains(line, "FAIL") && !strings.Contains(line, " -inf "):
			t.Errorf("quality's infinite effect is not -inf: %q", line)
		}
	}
	if strings.Contains(out, "e+308") || strings.Contains(out, "Inf") {
		t.Errorf("an infinite effect printed as a number:\n%s", out)
	}
}
