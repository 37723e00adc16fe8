package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// What the user sees: early in a canary, a category the candidate has not
// served yet showed "output_tokens  code  8  0  -100.0%": the candidate's
// "0" and a 100% drop, where it had no request at all in that category.
// What must happen: a side with no data reads "-", and so does the effect.
func TestRenderRollout_NoDataIsADash(t *testing.T) {
	now := time.Date(2026, 12, 5, 16, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeInconclusive, BaselineN: 100, CandidateN: 9,
		Metrics: []sluice.MetricVerdict{
			{Metric: "output_tokens", Category: "code", Outcome: sluice.OutcomeInconclusive, Baseline: 8, Candidate: 0, Effect: -1, Threshold: 0.5, Unit: "relative", PValue: 1, BaselineN: 5, CandidateN: 0},
			{Metric: "latency_p50", Category: "chat", Outcome: sluice.OutcomeInconclusive, Baseline: 0, Candidate: 0.3, Effect: 0, Threshold: 0.2, Unit: "relative", PValue: 1, BaselineN: 0, CandidateN: 4},
			{Metric: "error_rate", Outcome: sluice.OutcomeInconclusive, Baseline: 0, Candidate: 0, Effect: 0, Threshold: 0.005, Unit: "absolute", PValue: 1, BaselineN: 100, CandidateN: 9},
		}}
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		switch {
		case f[0] == "output_tokens" && (f[2] != "8" || f[3] != "-" || f[4] != "-"):
			t.Errorf("no candidate data in category code: %q, want 8 - -", line)
		case f[0] == "latency_p50" && (f[2] != "-" || f[3] != "0.3ms" || f[4] != "-"):
			t.Errorf("no baseline data in category chat: %q, want - 0.3ms -", line)
		case f[0] == "error_rate" && (f[2] != "0%" || f[3] != "0%" || f[4] != "+0.00pts"):
			t.Errorf("a measured rate of 0 on both sides: %q, want 0%% 0%% +0.00pts", line)
		}
	}
}

// TestInUnit_NoExponent: a verdict row's value in ms or percent is never
// in exponent form: a p99 of 12,345 ms read "1.235e+04ms" under %.4g (a
// review of the first-hour trial), a rate of 1e-7 "1e-05%".
func TestInUnit_NoExponent(t *testing.T) {
	for _, c := range []struct {
		metric string
		x      float64
		want   string
	}{
		{"latency_p99", 12345.4, "12345ms"},
		{"latency_p50", 43.664, "43.66ms"},
		{"latency_p50", 0.30004, "0.3ms"},
		{"ttft", 1500, "1500ms"},
		{"error_rate", 1e-7, "0.00001%"},
		{"error_rate", 0.002907, "0.291%"},
		{"refusal_rate", 1, "100%"},
		{"output_tokens", 123456, "123456"},
		{"quality", 0.98034, "0.9803"},
		{"error_rate", 0, "0%"},
	} {
		if got := inUnit(c.metric, c.x); got != c.want {
			t.Errorf("inUnit(%s, %v) = %q, want %q", c.metric, c.x, got, c.want)
		}
	}
}
