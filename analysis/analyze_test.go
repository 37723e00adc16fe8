package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/stats"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestAnalyze_Outcomes(t *testing.T) {
	better := with(func(b *fakellm.Behavior) {
		b.ErrorRate, b.RefusalRate = 0.005, 0.02
		b.Latency = fakellm.Distribution{MedianMS: 640, P99MS: 2400}
		b.TTFT = fakellm.Distribution{MedianMS: 160, P99MS: 720}
	})
	tests := []struct {
		name     string
		nb, nc   int
		cats     map[string]catSpec
		want     sluice.Outcome
		failRow  string // metric/category that must fail
		inReason string
	}{
		{name: "IdenticalBeforeMinSamples", nb: 5000, nc: 60, cats: one(stable, stable), want: sluice.OutcomeInconclusive, inReason: "60 of 100"},
		{name: "IdenticalEarly", nb: 20000, nc: 400, cats: one(stable, stable), want: sluice.OutcomeInconclusive, inReason: "not yet shown"},
		{name: "IdenticalEnoughData", nb: 60000, nc: 30000, cats: one(stable, stable), want: sluice.OutcomePass},
		{name: "BetterPasses", nb: 40000, nc: 4000, cats: one(stable, better), want: sluice.OutcomePass},
		{name: "ErrorRate1To5Fails", nb: 20000, nc: 600, cats: one(stable, with(func(b *fakellm.Behavior) { b.ErrorRate = 0.05 })),
			want: sluice.OutcomeFail, failRow: "error_rate/", inReason: "error rate: "},
		{name: "Refusals3To14Fails", nb: 20000, nc: 300, cats: one(stable, with(func(b *fakellm.Behavior) { b.RefusalRate = 0.14 })),
			want: sluice.OutcomeFail, failRow: "refusal_rate/", inReason: "threshold +50%"},
		{name: "TokensPlus60Fails", nb: 20000, nc: 300, cats: one(stable, with(func(b *fakellm.Behavior) { b.OutputTokens = fakellm.TokenCount{Mean: 192, Spread: 96} })),
			want: sluice.OutcomeFail, failRow: "output_tokens/", inReason: "output tokens"},
		{name: "P99Plus40MeanSameFails", nb: 60000, nc: 6000, cats: one(stable, with(func(b *fakellm.Behavior) { b.Latency = p99Plus40MeanSame(stable.Latency) })),
			want: sluice.OutcomeFail, failRow: "latency_p99/", inReason: "latency p99"},
		{name: "CacheHitRate80To60Fails", nb: 20000, nc: 600,
			cats: one(cached(stable, 0.8), cached(stable, 0.6)),
			want: sluice.OutcomeFail, failRow: "cache_miss_rate/", inReason: "prefix-cache miss rate: "},
		{name: "CacheHitRateSamePasses", nb: 60000, nc: 30000, cats: one(cached(stable, 0.8), cached(stable, 0.8)), want: sluice.OutcomePass},
		{name: "CacheReportedByOneSideOnlyIgnored", nb: 60000, nc: 30000, cats: one(stable, cached(stable, 0.1)), want: sluice.OutcomePass},
		{name: "CategoryOnlyRegressionFails", nb: 40000, nc: 4000, cats: map[string]catSpec{
			"chat":     {weight: 0.6, baseline: stable, candidate: better},
			"code":     {weight: 0.3, baseline: stable, candidate: better},
			"payments": {weight: 0.1, baseline: stable, candidate: with(func(b *fakellm.Behavior) { b.RefusalRate = 0.14 })},
		}, want: sluice.OutcomeFail, failRow: "refusal_rate/payments", inReason: "refusal rate in category payments: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := MustInput(t, 1, tc.nb, tc.nc, tc.cats)
			v := Analyze(sluice.AnalysisSpec{}, in, now)
			if v.Outcome != tc.want {
				t.Fatalf("outcome %s, want %s: %s (failing: %s)", v.Outcome, tc.want, v.Reason, failing(v))
			}
			if tc.failRow != "" && !strings.Contains(" "+failing(v)+" ", " "+tc.failRow+" ") {
				t.Errorf("failing rows %q, want %s among them", failing(v), tc.failRow)
			}
			if !strings.Contains(v.Reason, tc.inReason) {
				t.Errorf("reason %q does not contain %q", v.Reason, tc.inReason)
			}
			if v.CandidateN != in.Candidate.Requests || v.BaselineN != in.Baseline.Requests {
				t.Errorf("n = %d/%d, want %d/%d", v.BaselineN, v.CandidateN, in.Baseline.Requests, in.Candidate.Requests)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Errorf("verdict does not marshal: %v", err)
			}
			t.Log(v.Reason)
		})
	}
}

// cached returns b reporting its prefix cache with the given hit rate.
func cached(b fakellm.Behavior, hitRate float64) fakellm.Behavior {
	b.ReportCache, b.CacheHitRate = true, hitRate
	return b
}

// p99Plus40MeanSame returns a lognormal with p99 40% above d's and the same
// mean: a wider spread around a lower median.
func p99Plus40MeanSame(d fakellm.Distribution) fakellm.Distribution {
	const z99 = 2.3263478740408408
	sb := math.Log(d.P99MS/d.MedianMS) / z99
	// Solve −σ²/2 + z99·σ = −σb²/2 + z99·σb + ln 1.4 for the smaller root.
	c := -sb*sb/2 + z99*sb + math.Log(1.4)
	sc := z99 - math.Sqrt(z99*z99-2*c)
	median := d.MedianMS * math.Exp(sb*sb/2-sc*sc/2)
	return fakellm.Distribution{MedianMS: median, P99MS: median * math.Exp(z99*sc)}
}

func TestMoments(t *testing.T) {
	x := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}
	got := moments(x)
	want := stats.Summarize(x)
	if got.N != want.N || !(math.Abs(got.Mean-want.Mean) < 1e-12) || !(math.Abs(got.Variance-want.Variance) < 1e-9) {
		t.Errorf("moments = %+v, want %+v", got, want)
	}
	withNaN := append([]float64{math.NaN()}, x...)
	if got := moments(withNaN); got.N != want.N || !(math.Abs(got.Mean-want.Mean) < 1e-12) {
		t.Errorf("with a NaN: %+v, want %+v", got, want)
	}
	if got := moments(nil); got.N != 0 {
		t.Errorf("empty: %+v", got)
	}
}

func TestWithDefaults(t *testing.T) {
	t.Run("Zero", func(t *testing.T) {
		s := WithDefaults(sluice.AnalysisSpec{Alpha: 2})
		th := s.Thresholds
		if s.Interval.D() != 10*time.Second || s.Alpha != 0.05 || s.MinSamples != 100 || s.FailChecks != 2 ||
			th.ErrorRateRel != 0.5 || th.ErrorRateAbs != 0.005 || th.CancelRateRel != 0.5 || th.CancelRateAbs != 0.01 || th.RefusalRateRel != 0.5 || th.RefusalRateAbs != 0.01 ||
			th.LatencyRel != 0.2 || th.TokensRel != 0.5 || th.QualityAbs != 0.05 || s.Categories != nil ||
			th.ToolCallRateRel != 0.2 || th.ToolCallRateAbs != 0.05 {
			t.Errorf("defaults: %+v", s)
		}
	})
	t.Run("Kept", func(t *testing.T) {
		s := WithDefaults(sluice.AnalysisSpec{Alpha: 0.01, MinSamples: 500, Thresholds: sluice.Thresholds{LatencyRel: 0.1}})
		if s.Alpha != 0.01 || s.MinSamples != 500 || s.Thresholds.LatencyRel != 0.1 || s.Thresholds.TokensRel != 0.5 {
			t.Errorf("kept: %+v", s)
		}
	})
}

// TestAnalyze_Reason checks the words of a failing verdict on counts chosen
// by hand.
func TestAnalyze_Reason(t *testing.T) {
	lat := func(n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(500 + i%400)
		}
		return x
	}
	arm := func(n, refusals int) Arm {
		return Arm{Requests: n, Refusals: refusals, Latency: lat(n), OutputTokens: lat(n), ResponseChars: lat(n)}
	}
	in := Input{
		Baseline:  arm(20000, 600),
		Candidate: arm(2000, 88),
		Categories: map[string]Pair{
			"chat":     {Baseline: arm(18000, 540), Candidate: arm(1800, 60)},
			"payments": {Baseline: arm(2000, 60), Candidate: arm(200, 28)},
		},
	}
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	want := "refusal rate in category payments: 14.0% vs 3.0% (+367%, threshold +50%)"
	if v.Outcome != sluice.OutcomeFail || v.Reason != want {
		t.Errorf("got %s %q, want fail %q", v.Outcome, v.Reason, want)
	}
	m := metric(t, v, "refusal_rate", "payments")
	if m.Unit != "absolute" || math.Abs(m.Effect-0.11) > 1e-9 || m.Threshold != 0.015 || m.Lower <= 0 || m.PValue > 0.05 || m.CandidateN != 200 {
		t.Errorf("row: %+v", m)
	}
	if o := metric(t, v, "refusal_rate", "").Outcome; o == sluice.OutcomeFail {
		t.Errorf("overall refusal rate %s; only payments regressed", o)
	}
}

func TestAnalyze_Options(t *testing.T) {
	regress := map[string]catSpec{
		"chat":     {weight: 0.9, baseline: stable, candidate: stable},
		"payments": {weight: 0.1, baseline: stable, candidate: with(func(b *fakellm.Behavior) { b.RefusalRate = 0.25 })},
	}
	in := MustInput(t, 5, 40000, 4000, regress)
	t.Run("CategoriesOff", func(t *testing.T) {
		off := false
		v := Analyze(sluice.AnalysisSpec{Categories: &off}, in, now)
		for _, m := range v.Metrics {
			if m.Category != "" {
				t.Fatalf("category row with categories off: %+v", m)
			}
		}
	})
	t.Run("SortedSameAsUnsorted", func(t *testing.T) {
		v1 := Analyze(sluice.AnalysisSpec{}, in, now)
		sorted := func(a Arm) Arm {
			a.Latency, a.TTFT, a.Sorted = sortedCopy(a.Latency), sortedCopy(a.TTFT), true
			return a
		}
		in2 := Input{Baseline: sorted(in.Baseline), Candidate: sorted(in.Candidate), Categories: map[string]Pair{}}
		for k, p := range in.Categories {
			in2.Categories[k] = Pair{Baseline: sorted(p.Baseline), Candidate: sorted(p.Candidate)}
		}
		v2 := Analyze(sluice.AnalysisSpec{}, in2, now)
		b1, _ := json.Marshal(v1)
		b2, _ := json.Marshal(v2)
		if string(b1) != string(b2) {
			t.Errorf("sorted input changed the verdict:\n%s\n%s", b1, b2)
		}
	})
	t.Run("NeedSamples", func(t *testing.T) {
		v := Analyze(sluice.AnalysisSpec{}, MustInput(t, 6, 20000, 400, one(stable, stable)), now)
		if v.Outcome != sluice.OutcomeInconclusive || v.NeedSamples <= 400 {
			t.Errorf("early A/A: %s, need %d", v.Outcome, v.NeedSamples)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		v := Analyze(sluice.AnalysisSpec{}, Input{}, now)
		if v.Outcome != sluice.OutcomeInconclusive {
			t.Errorf("empty input: %s", v.Outcome)
		}
		if _, err := json.Marshal(v); err != nil {
			t.Error(err)
		}
	})
}
