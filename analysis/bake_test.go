package analysis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
)

// TestAnalyzeBake: a bake compares the promoted candidate's error and
// cancel rates with the baseline's before the promotion (its counts
// alone), overall and per category, and nothing else.
func TestAnalyzeBake(t *testing.T) {
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	ref := sluice.RateCounts{Requests: 10000, Errors: 50, Canceled: 20}
	// cand is n finished requests, errs of them failed, with latencies and
	// lengths the reference has none of.
	cand := func(n, errs int) analysis.Arm {
		a := analysis.Arm{Requests: n, Errors: errs}
		for i := range n - errs {
			a.Latency = append(a.Latency, float64(100+i%50))
			a.OutputTokens = append(a.OutputTokens, float64(20+i%7))
		}
		return a
	}
	spec := sluice.AnalysisSpec{}

	t.Run("SameRatesPass", func(t *testing.T) {
		v := analysis.AnalyzeBake(spec, analysis.Input{Baseline: analysis.BakeArm(ref), Candidate: cand(20000, 100)}, now)
		if v.Outcome != sluice.OutcomePass {
			t.Fatalf("outcome %s (%s), want pass", v.Outcome, v.Reason)
		}
		for _, m := range v.Metrics {
			if m.Metric != "error_rate" && m.Metric != "cancel_rate" {
				t.Errorf("row %s: a bake judges the error and cancel rates only", m.Metric)
			}
		}
		if len(v.Metrics) != 2 {
			t.Errorf("%d rows, want 2", len(v.Metrics))
		}
	})
	t.Run("ErrorRateFails", func(t *testing.T) {
		v := analysis.AnalyzeBake(spec, analysis.Input{Baseline: analysis.BakeArm(ref), Candidate: cand(2000, 160)}, now)
		if v.Outcome != sluice.OutcomeFail || !strings.Contains(v.Reason, "error rate") {
			t.Fatalf("outcome %s (%s), want fail on error_rate", v.Outcome, v.Reason)
		}
	})
	t.Run("InACategory", func(t *testing.T) {
		in := analysis.Input{
			Baseline: analysis.BakeArm(ref), Candidate: cand(10000, 75),
			Categories: map[string]analysis.Pair{
				"payments": {Baseline: analysis.BakeArm(sluice.RateCounts{Requests: 2000, Errors: 10}), Candidate: cand(200, 30)},
				"chat":     {Baseline: analysis.BakeArm(sluice.RateCounts{Requests: 8000, Errors: 40}), Candidate: cand(9800, 45)},
			},
		}
		v := analysis.AnalyzeBake(spec, in, now)
		var failed []string
		for _, m := range v.Metrics {
			if m.Outcome == sluice.OutcomeFail {
				failed = append(failed, m.Metric+"/"+m.Category)
			}
		}
		if v.Outcome != sluice.OutcomeFail || len(failed) != 1 || failed[0] != "error_rate/payments" {
			t.Fatalf("outcome %s, failed %v (%s); want the error rate in payments alone", v.Outcome, failed, v.Reason)
		}
	})
	t.Run("NoReferenceNeverFails", func(t *testing.T) {
		// A reference lost (a restart before the bake's first analysis
		// read it): nothing to compare the rates with.
		v := analysis.AnalyzeBake(spec, analysis.Input{Candidate: cand(2000, 600)}, now)
		if v.Outcome == sluice.OutcomeFail {
			t.Fatalf("outcome %s (%s): no reference, no failure", v.Outcome, v.Reason)
		}
	})
}
