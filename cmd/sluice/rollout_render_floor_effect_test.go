package main

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_FloorRowEffectInMS: a latency row whose absolute floor
// rules has its threshold in milliseconds ("+2 ms"), and its effect must
// be too: "+215.0%" beside "+2 ms" (a trial on fast backends) left the
// reader unable to tell whether the change was beyond the threshold. A
// row judged on its relative threshold keeps a relative effect.
func TestRenderRollout_FloorRowEffectInMS(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeInconclusive, Reason: "latency", BaselineN: 400, CandidateN: 100,
		Metrics: []sluice.MetricVerdict{
			{Metric: "latency_p50", Outcome: sluice.OutcomeInconclusive, Baseline: 0.2825, Candidate: 0.8898, Effect: 2.15, Threshold: 7.08, ThresholdMS: 2, Unit: "relative", PValue: 1, BaselineN: 400, CandidateN: 100},
			{Metric: "latency_p95", Outcome: sluice.OutcomeFail, Baseline: 8.6, Candidate: 19, Effect: 1.209, Threshold: 0.2326, ThresholdMS: 2, Unit: "relative", PValue: 0.001, BaselineN: 400, CandidateN: 100},
			{Metric: "latency_p99", Outcome: sluice.OutcomeInconclusive, Baseline: 3000, Candidate: 3100, Effect: 0.033, Threshold: 0.2, Unit: "relative", PValue: 1, BaselineN: 400, CandidateN: 100},
		}}
	raw, _ := json.Marshal(v)
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now, LastVerdict: raw,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, want := range []string{
		`latency_p50 +- +0\.2825ms +0\.8898ms +\+0\.607ms +\+2 ms `,
		`latency_p95 +- +8\.6ms +19ms +\+10\.4ms +\+2 ms `,
		`latency_p99 +- +3000ms +3100ms +\+3\.3% +\+20\.0% `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}

// TestRenderRollout_FloorRowEffectNoExponent: the floor rules whenever the
// baseline is fast (under 10 ms at the defaults), whatever the candidate
// does, so a candidate answering in seconds beside a loopback baseline is
// exactly the row whose effect must read plainly: "%+.3g" wrote
// "+1.5e+03ms" beside "1500ms" in the candidate's column.
func TestRenderRollout_FloorRowEffectNoExponent(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	v := sluice.Verdict{At: now, Outcome: sluice.OutcomeFail, Reason: "latency", BaselineN: 400, CandidateN: 100,
		Metrics: []sluice.MetricVerdict{
			{Metric: "latency_p50", Outcome: sluice.OutcomeFail, Baseline: 5, Candidate: 1500, Effect: 299, Threshold: 0.4, ThresholdMS: 2, Unit: "relative", PValue: 0.0001, BaselineN: 400, CandidateN: 100},
			{Metric: "ttft", Outcome: sluice.OutcomeFail, Baseline: 0.5, Candidate: 12345.6, Effect: 24690, Threshold: 4, ThresholdMS: 2, Unit: "relative", PValue: 0.0001, BaselineN: 400, CandidateN: 100},
			{Metric: "latency_p95", Outcome: sluice.OutcomeInconclusive, Baseline: 8, Candidate: 7.99996, Effect: -0.000005, Threshold: 0.25, ThresholdMS: 2, Unit: "relative", PValue: 1, BaselineN: 400, CandidateN: 100},
		}}
	raw, _ := json.Marshal(v)
	st := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 5, StageStartedAt: now, LastVerdict: raw,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}, Verdict: &v}
	out := renderRollout(st, now)
	for _, want := range []string{
		`latency_p50 +- +5ms +1500ms +\+1495ms +\+2 ms `,
		`ttft +- +0\.5ms +\S+ +\+12345ms +\+2 ms `,
		`latency_p95 +- +8ms +8ms +-0\.00004ms +\+2 ms `,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
}
