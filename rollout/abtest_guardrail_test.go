package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// failing is a failing verdict whose failed rows are metrics (each
// "metric" or "metric/category").
func failing(bn, cn int, metrics ...string) *sluice.Verdict {
	v := verdict(sluice.OutcomeFail, bn, cn)
	for _, m := range metrics {
		name, cat, _ := strings.Cut(m, "/")
		v.Metrics = append(v.Metrics, sluice.MetricVerdict{Metric: name, Category: cat, Outcome: sluice.OutcomeFail, Baseline: 0.01, Candidate: 0.3, Unit: "absolute"})
	}
	v.Metrics = append(v.Metrics, sluice.MetricVerdict{Metric: "latency_p50", Outcome: sluice.OutcomePass})
	return v
}

// TestNext_ABTestGuardrail: an A/B test ran to its planned sample
// whatever the interim analyses said, so a candidate answering 30% of its
// requests with an error kept its half of the traffic for the whole
// sample (10,000 requests a side, say), where a canary of it is rolled
// back in seconds. The error and cancel rates are now the test's
// guardrail: failing there, as the canary analysis fails them, for
// FailChecks analyses in a row, rolls the test back. Anything else the
// interim analyses find (lengths, latency, refusals: what the experiment
// is there to measure, often on purpose) lets it run to its sample, as
// before.
func TestNext_ABTestGuardrail(t *testing.T) {
	start := func(t *testing.T) sluice.Rollout {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 10000, Analysis: sluice.AnalysisSpec{FailChecks: 2}})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		return r
	}
	t.Run("ErrorRateRollsBack", func(t *testing.T) {
		r := start(t)
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: failing(300, 300, "error_rate")})
		if r.Phase != sluice.PhaseProgressing {
			t.Fatalf("one failing analysis: phase %s, want progressing (FailChecks 2)", r.Phase)
		}
		// The timeline warns before the rollback, as a canary's does: an
		// operator watching the test sees the guardrail failing, and why.
		if e := r.Events[len(r.Events)-1]; e.Kind != "verdict" || !strings.Contains(e.Message, "guardrail") ||
			!strings.Contains(e.Message, "1 of 2 in a row") || !strings.Contains(e.Message, "error rate") || len(e.Data) == 0 {
			t.Errorf("last event after one failing analysis: %s %q (data %d bytes); want the guardrail's failure, 1 of 2 in a row, with its verdict", e.Kind, e.Message, len(e.Data))
		}
		r, acts := must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: failing(400, 400, "error_rate", "output_tokens")})
		if r.Phase != sluice.PhaseRolledBack || !hasAction(acts, ActRestore) || !hasAction(acts, ActDrain) || !hasAction(acts, ActUnload) {
			t.Fatalf("second failing analysis: phase %s, actions %v; want rolled back, restored, drained, unloaded", r.Phase, acts)
		}
		if !strings.Contains(r.Decision, "guardrail") || !strings.Contains(r.Decision, "error rate") || strings.Contains(r.Decision, "output") {
			t.Errorf("decision %q: want the guardrail named, with the error rate and only it", r.Decision)
		}
	})
	t.Run("CancelRateInACategory", func(t *testing.T) {
		r := start(t)
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: failing(300, 300, "cancel_rate/payments")})
		r, _ = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: failing(400, 400, "cancel_rate/payments")})
		if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, "payments") {
			t.Fatalf("phase %s, decision %q; want rolled back on the cancel rate in payments", r.Phase, r.Decision)
		}
	})
	t.Run("AtMostThreeNamed", func(t *testing.T) {
		r := start(t)
		five := failing(300, 300, "error_rate", "error_rate/a", "error_rate/b", "cancel_rate/c", "error_rate/d")
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: five})
		r, _ = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: five})
		if r.Phase != sluice.PhaseRolledBack || !strings.HasSuffix(r.Decision, "; and 2 more") || strings.Contains(r.Decision, "category d") {
			t.Errorf("decision %q: want three rows named, then \"and 2 more\"", r.Decision)
		}
	})
	t.Run("NotInARow", func(t *testing.T) {
		r := start(t)
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: failing(300, 300, "error_rate")})
		r, _ = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomeInconclusive, 400, 400)})
		r, _ = must(t, r, t0.Add(3*time.Minute), Event{Kind: EvAnalysis, Verdict: failing(500, 500, "error_rate")})
		if r.Phase != sluice.PhaseProgressing {
			t.Fatalf("two failing analyses not in a row: phase %s, want progressing", r.Phase)
		}
	})
	// analysis.guards on an A/B test: accepted and stored, they did
	// nothing, as the test ran on whatever the latency did. A guard is a
	// bound the test must hold, so it joins the guardrail: failing as the
	// canary analysis fails it, FailChecks analyses in a row, it rolls the
	// test back, named as a guard; a metric not named still runs on.
	t.Run("GuardsJoinTheGuardrail", func(t *testing.T) {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 10000,
			Analysis: sluice.AnalysisSpec{FailChecks: 2, Guards: []string{"latency_p99", "quality"}}})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		slow := failing(300, 300, "latency_p99/payments")
		slow.Metrics[0].Detail = "latency p99 in category payments: 410 ms vs 300 ms (+37%, threshold +20%); anytime-valid interval +25% to +49%, p = 0.001: worse beyond the threshold"
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: slow})
		if e := r.Events[len(r.Events)-1]; r.Phase != sluice.PhaseProgressing || e.Kind != "verdict" || !strings.Contains(e.Message, "1 of 2 in a row") ||
			!strings.Contains(e.Message, "guard latency p99 in category payments: 410 ms vs 300 ms (+37%, threshold +20%)") || strings.Contains(e.Message, "anytime") {
			t.Fatalf("one failing analysis on a guard: phase %s, last event %s %q; want progressing, the guard named as the analysis says it", r.Phase, e.Kind, e.Message)
		}
		r, acts := must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: failing(400, 400, "quality", "output_tokens")})
		if r.Phase != sluice.PhaseRolledBack || !hasAction(acts, ActRestore) || !strings.Contains(r.Decision, "guardrail failed: guard quality") || strings.Contains(r.Decision, "output") {
			t.Fatalf("second failing analysis on a guard: phase %s, decision %q; want rolled back naming the guard, not the unguarded metric", r.Phase, r.Decision)
		}
		// Not named: the test runs on, as before.
		r = mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 10000,
			Analysis: sluice.AnalysisSpec{FailChecks: 2, Guards: []string{"latency_p99"}}})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		for i := range 3 {
			r, _ = must(t, r, t0.Add(time.Duration(i+1)*time.Minute), Event{Kind: EvAnalysis, Verdict: failing(300+i, 300+i, "latency_p95", "output_tokens")})
		}
		if r.Phase != sluice.PhaseProgressing {
			t.Fatalf("failing on metrics that are not guards: phase %s, want progressing to its sample", r.Phase)
		}
	})
	t.Run("OtherMetricsRunOn", func(t *testing.T) {
		r := start(t)
		for i, m := range []string{"output_tokens", "refusal_rate", "latency_p99", "quality"} {
			r, _ = must(t, r, t0.Add(time.Duration(i+1)*time.Minute), Event{Kind: EvAnalysis, Verdict: failing(300+i, 300+i, m)})
		}
		if r.Phase != sluice.PhaseProgressing {
			t.Fatalf("failing on lengths, refusals, latency and quality: phase %s, want progressing to its sample", r.Phase)
		}
	})
}
