package analysis

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// errorArm is an arm of n requests, e of them errors, whose answers repeat
// equalArm's pattern: two such arms differ on the error rate and on little
// else, and the report has the eight rows error_rate, cancel_rate,
// refusal_rate, latency_mean, ttft_mean, output_tokens, response_chars and
// quality.
func errorArm(n, e int) Arm {
	a := Arm{Requests: n, Errors: e}
	answered := n - e
	a.Refusals = answered * 3 / 100
	for i := range answered {
		a.Latency = append(a.Latency, 600+float64(i%7)*100)
		a.TTFT = append(a.TTFT, 150+float64(i%5)*25)
		a.OutputTokens = append(a.OutputTokens, 80+float64(i%9)*10)
		a.ResponseChars = append(a.ResponseChars, 320+float64(i%9)*40)
		a.Quality = append(a.Quality, 0.6+float64(i%5)*0.1)
	}
	return a
}

func near(tb testing.TB, what string, got, want float64) {
	tb.Helper()
	if math.Abs(got-want) > 1e-9 {
		tb.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

// TestABReport_SimultaneousIntervals: 4 errors in 400 requests against 15
// in 400, with seven other metrics equal. The error rate's own 95%
// interval excludes zero, and even lies beyond the margin (0.5 points),
// but among eight metrics one such interval is a chance finding a third of
// the time: the report called the row "beyond" the threshold, a change
// that matters, beside a Holm-adjusted p of 0.085. Its simultaneous
// interval, at 1 − 0.05/8, spans zero, so the row is undecided and the
// summary asks for more data.
//
// The reference figures are computed by hand (python3, statistics.NormalDist
// for z; Newcombe 1998's method 10 from Wilson's intervals, written out
// there, not our code):
//
//	p_b = 4/400 = 0.01, p_c = 15/400 = 0.0375, d = 0.0275
//	pooled z test: p = 0.010646723569684395, Holm over 8: 8p = 0.0852
//	95%      (z = 1.959964): [0.006229032727460192, 0.05172558289619436]
//	99.375%  (z = 2.734369): [-0.0038218667954252952, 0.06380760075794334]
func TestABReport_SimultaneousIntervals(t *testing.T) {
	rep := ABReport(Input{Baseline: errorArm(400, 4), Candidate: errorArm(400, 15)}, sluice.AnalysisSpec{Alpha: 0.05})
	if len(rep.Metrics) != 8 {
		t.Fatalf("%d rows, want the 8 the reference's family has: %+v", len(rep.Metrics), rep.Metrics)
	}
	m := abRow(t, rep, "error_rate")
	near(t, "p", m.PValue, 0.010646723569684395)
	near(t, "adjusted p", m.AdjustedP, 8*0.010646723569684395)
	near(t, "lower", m.Lower, 0.006229032727460192)
	near(t, "upper", m.Upper, 0.05172558289619436)
	near(t, "adjusted lower", m.AdjustedLower, -0.0038218667954252952)
	near(t, "adjusted upper", m.AdjustedUpper, 0.06380760075794334)
	near(t, "adjusted level", m.AdjustedLevel, 1-0.05/8)
	if !(m.Lower > m.Margin) || !(m.AdjustedLower < 0) {
		t.Fatalf("the case is not the one described: %+v", m)
	}
	// The conclusion follows the simultaneous interval, not the row's own.
	if m.Equivalence != "undecided" || m.Winner != "no difference" || rep.Winner != "no difference" {
		t.Errorf("error_rate equivalence %q, winner %q, report %q; want undecided, no difference: %s", m.Equivalence, m.Winner, rep.Winner, rep.Summary)
	}
	if strings.Contains(rep.Summary, "beyond the threshold but not significant") || !strings.Contains(rep.Summary, "not enough data to rule out a change beyond the threshold on error_rate") {
		t.Errorf("summary %q, want error_rate undecided (not enough data), not beyond", rep.Summary)
	}
	// Every row has its simultaneous interval around the estimate, wider
	// than its own.
	for _, r := range rep.Metrics {
		if r.AdjustedLevel != 1-0.05/8 || r.AdjustedLower > r.Lower || r.AdjustedUpper < r.Upper || r.AdjustedLower > r.Diff || r.AdjustedUpper < r.Diff {
			t.Errorf("%s: interval [%v, %v], simultaneous [%v, %v] at %v", r.Name(), r.Lower, r.Upper, r.AdjustedLower, r.AdjustedUpper, r.AdjustedLevel)
		}
	}
}

// TestABReport_SimultaneousIntervalsWithCategories: with two categories the
// family is the 8 overall rows, sharing half of alpha, and the 16 category
// rows, sharing the other half (abAdjust's weights), so each overall row's
// interval is at 1 − 0.025/8 and each category row's at 1 − 0.025/16.
// Each category is 400 requests a side with 4 and 15 errors, all traffic
// 800 with 8 and 30. Reference (python3 as above):
//
//	overall at 99.6875%:   [0.004651769775225224, 0.05363489500094523]
//	category at 99.84375%: [-0.010116674812240309, 0.071207849291831]
func TestABReport_SimultaneousIntervalsWithCategories(t *testing.T) {
	in := Input{
		Baseline: errorArm(800, 8), Candidate: errorArm(800, 30),
		Categories: map[string]Pair{
			"a": {Baseline: errorArm(400, 4), Candidate: errorArm(400, 15)},
			"b": {Baseline: errorArm(400, 4), Candidate: errorArm(400, 15)},
		},
	}
	rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
	if len(rep.Metrics) != 8 || len(rep.Categories) != 16 {
		t.Fatalf("%d overall rows and %d category rows, want 8 and 16", len(rep.Metrics), len(rep.Categories))
	}
	m := abRow(t, rep, "error_rate")
	near(t, "overall adjusted lower", m.AdjustedLower, 0.004651769775225224)
	near(t, "overall adjusted upper", m.AdjustedUpper, 0.05363489500094523)
	near(t, "overall adjusted level", m.AdjustedLevel, 1-0.025/8)
	for _, c := range rep.Categories {
		near(t, c.Name()+" in "+c.Category+" adjusted level", c.AdjustedLevel, 1-0.025/16)
		if c.Metric == "error_rate" {
			near(t, "category "+c.Category+" adjusted lower", c.AdjustedLower, -0.010116674812240309)
			near(t, "category "+c.Category+" adjusted upper", c.AdjustedUpper, 0.071207849291831)
		}
	}
}

// TestMoreSample_SimultaneousWidth: the summary's "about N more requests"
// projects when the interval that judges equivalence fits within its
// margin, so it must project the simultaneous interval: half-width 0.02
// against a margin of 0.01 around a difference of 0 needs (0.02/0.01)² = 4
// times the sample, where the row's own half-width 0.015 would have said
// (0.015/0.01)² = 2.25.
func TestMoreSample_SimultaneousWidth(t *testing.T) {
	m := ABMetric{Equivalence: "undecided", Margin: 0.01, Lower: -0.015, Upper: 0.015, AdjustedLower: -0.02, AdjustedUpper: 0.02}
	near(t, "factor", moreSample([]ABMetric{m}), 4)
	if got := moreRequests(4, 400); got != 1200 {
		t.Errorf("moreRequests(4, 400) = %d, want 1200 (400 × 3)", got)
	}
}

// TestABReport_SimultaneousCoverage: A/A tests, both arms drawn from the
// same distributions, so every true difference is zero. Among the eight
// all-traffic rows, drawn independently here, some row's own 95% interval
// excludes zero in about 1 − 0.95⁸ = 34% of reports; the simultaneous
// intervals, Bonferroni's at 1 − 0.05/8, exclude zero somewhere in at most
// 5% of them (Bonferroni's inequality). With 400 reports the standard error
// of a 5% rate is √(0.05 × 0.95 / 400) = 1.1 points: the test allows 5% +
// 3 standard errors, and asks the rows' own intervals for at least 20%.
func TestABReport_SimultaneousCoverage(t *testing.T) {
	if testing.Short() {
		t.Skip("400 reports (skipped under -short)")
	}
	rng := rand.New(rand.NewPCG(30, 7))
	arm := func(n int) Arm {
		a := Arm{Requests: n}
		for range n {
			switch u := rng.Float64(); {
			case u < 0.05:
				a.Errors++
				continue
			case u < 0.08:
				a.Canceled++
				continue
			}
			if rng.Float64() < 0.1 {
				a.Refusals++
			}
			a.Latency = append(a.Latency, 800+200*rng.NormFloat64())
			a.TTFT = append(a.TTFT, 200+50*rng.NormFloat64())
			a.OutputTokens = append(a.OutputTokens, math.Round(100+30*rng.NormFloat64()))
			a.ResponseChars = append(a.ResponseChars, math.Round(400+120*rng.NormFloat64()))
			a.Quality = append(a.Quality, float64(rng.IntN(2)))
		}
		return a
	}
	const reports = 400
	var own, sim int
	for range reports {
		rep := ABReport(Input{Baseline: arm(1000), Candidate: arm(1000)}, sluice.AnalysisSpec{Alpha: 0.05})
		if len(rep.Metrics) != 8 {
			t.Fatalf("%d rows, want 8", len(rep.Metrics))
		}
		var o, s bool
		for _, m := range rep.Metrics {
			o = o || m.Lower > 0 || m.Upper < 0
			s = s || m.AdjustedLower > 0 || m.AdjustedUpper < 0
		}
		if o {
			own++
		}
		if s {
			sim++
		}
	}
	t.Logf("of %d A/A reports, %d had a row whose own 95%% interval excludes zero, %d a simultaneous one", reports, own, sim)
	if limit := 0.05 + 3*math.Sqrt(0.05*0.95/reports); float64(sim)/reports > limit {
		t.Errorf("%d of %d A/A reports have a simultaneous interval excluding zero: above %.3f", sim, reports, limit)
	}
	if float64(own)/reports < 0.2 {
		t.Errorf("only %d of %d A/A reports have a row's own interval excluding zero: the case does not show what the simultaneous intervals are for", own, reports)
	}
}
