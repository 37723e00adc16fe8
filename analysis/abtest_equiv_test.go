package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// equalArm is an arm of n requests with 1% errors, 3% refusals among the
// answers, and latencies, TTFTs, lengths and quality scores that repeat one
// fixed pattern: two such arms have exactly equal rates and means, so only
// the sample size decides how sure the report can be that they are equal.
func equalArm(n int) Arm {
	return errorArm(n, n/100)
}

func abRow(tb testing.TB, rep Report, name string) ABMetric {
	tb.Helper()
	for _, m := range rep.Metrics {
		if m.Metric == name {
			return m
		}
	}
	tb.Fatalf("no row %s in %+v", name, rep.Metrics)
	return ABMetric{}
}

// TestABReport_Equivalence: a report without a winner said "no
// significant difference" both when the arms were shown to be within the
// analysis thresholds of each other and when the sample was too small to
// see a change that matters. It now tells the two apart, per row (Margin,
// Equivalence) and in the summary, with the margins of the rollout's
// analysis thresholds.
func TestABReport_Equivalence(t *testing.T) {
	spec := sluice.AnalysisSpec{Alpha: 0.05}
	t.Run("LargeSampleIsEquivalent", func(t *testing.T) {
		rep := ABReport(Input{Baseline: equalArm(20000), Candidate: equalArm(20000)}, spec)
		if rep.Winner != "no difference" {
			t.Fatalf("winner %q: %s", rep.Winner, rep.Summary)
		}
		if !strings.Contains(rep.Summary, "equivalent within the analysis thresholds on every metric") {
			t.Errorf("summary %q does not say the arms are equivalent", rep.Summary)
		}
		for _, m := range rep.Metrics {
			if m.Equivalence != "within" || !(m.Margin > 0) {
				t.Errorf("%s: equivalence %q, margin %v, interval [%v, %v]; want within a positive margin", m.Metric, m.Equivalence, m.Margin, m.Lower, m.Upper)
			}
		}
		// Each margin is the analysis's threshold for the metric, in the
		// units of Diff: the rate's the larger of rel × baseline and abs.
		for name, want := range map[string]float64{
			"error_rate":     0.005, // max(0.5 × 1%, 0.5 points)
			"refusal_rate":   0.015, // max(0.5 × 3%, 1 point)
			"cancel_rate":    0.01,  // the floor: no cancels
			"latency_mean":   0.2 * abRow(t, rep, "latency_mean").Baseline,
			"output_tokens":  0.5 * abRow(t, rep, "output_tokens").Baseline,
			"response_chars": 0.5 * abRow(t, rep, "response_chars").Baseline,
			"quality":        0.05,
		} {
			if got := abRow(t, rep, name).Margin; math.Abs(got-want) > 1e-4*want {
				t.Errorf("%s margin %v, want %v", name, got, want)
			}
		}
	})
	t.Run("CustomThresholdsAreTheMargins", func(t *testing.T) {
		// A rollout whose thresholds are tight asks more of the same sample.
		tight := spec
		tight.Thresholds = sluice.Thresholds{ErrorRateRel: 0.1, ErrorRateAbs: 0.0001}
		rep := ABReport(Input{Baseline: equalArm(20000), Candidate: equalArm(20000)}, tight)
		e := abRow(t, rep, "error_rate")
		if math.Abs(e.Margin-0.001) > 1e-9 || e.Equivalence != "undecided" {
			t.Errorf("error_rate margin %v (want 0.001), equivalence %q (want undecided)", e.Margin, e.Equivalence)
		}
		if !strings.Contains(rep.Summary, "not enough data to rule out a change beyond the threshold on error_rate") {
			t.Errorf("summary %q", rep.Summary)
		}
	})
	t.Run("TinySampleIsNotEnoughData", func(t *testing.T) {
		rep := ABReport(Input{Baseline: equalArm(200), Candidate: equalArm(200)}, spec)
		if rep.Winner != "no difference" {
			t.Fatalf("winner %q: %s", rep.Winner, rep.Summary)
		}
		if e := abRow(t, rep, "error_rate"); e.Equivalence != "undecided" {
			t.Errorf("error_rate on 200 a side: %q, interval [%v, %v] margin %v", e.Equivalence, e.Lower, e.Upper, e.Margin)
		}
		if strings.Contains(rep.Summary, "equivalent") || !strings.Contains(rep.Summary, "not enough data to rule out a change beyond the threshold on error_rate") {
			t.Errorf("summary %q should say the sample is too small, naming error_rate", rep.Summary)
		}
	})
	t.Run("SignificantDifferenceStaysAWinner", func(t *testing.T) {
		b, c := equalArm(5000), equalArm(5000)
		c.Errors = 250 // 5% against 1%
		rep := ABReport(Input{Baseline: b, Candidate: c}, spec)
		if rep.Winner != "baseline" || !strings.HasPrefix(rep.Summary, "the baseline wins: the candidate is worse on error_rate") {
			t.Errorf("winner %q: %s", rep.Winner, rep.Summary)
		}
		if e := abRow(t, rep, "error_rate"); e.Winner != "baseline" || e.Equivalence != "beyond" {
			t.Errorf("error_rate: winner %q, equivalence %q", e.Winner, e.Equivalence)
		}
	})
	t.Run("ConstantScores", func(t *testing.T) {
		// Every answer graded 1 on both arms: Welch's interval collapses
		// to [0, 0], which says nothing about a change on 40 requests, but
		// 3000 perfect scores a side do rule out a drop of 0.05.
		for n, want := range map[int]string{10: "undecided", 40: "undecided", 3000: "within"} {
			b, c := Arm{Requests: n}, Arm{Requests: n}
			for range n {
				b.Quality, c.Quality = append(b.Quality, 1), append(c.Quality, 1)
			}
			if q := abRow(t, ABReport(Input{Baseline: b, Candidate: c}, spec), "quality"); q.Equivalence != want {
				t.Errorf("quality on %d perfect scores a side: %q, want %q", n, q.Equivalence, want)
			}
		}
	})
}
