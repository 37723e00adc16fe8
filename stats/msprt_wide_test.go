package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// logMean is log((e^a + e^b)/2), computed naively for the tests.
func logMean(a, b float64) float64 { return math.Log((math.Exp(a) + math.Exp(b)) / 2) }

// TestMixtureSPRT_WideIsTheMeanOfTwoMixtures: with Tau2Wide set, each
// likelihood ratio (two-sided and both one-sided) is the equal-weight
// average of the single mixtures' with Tau2 and with Tau2Wide, so each
// p-value lies between the smaller of theirs and twice it.
func TestMixtureSPRT_WideIsTheMeanOfTwoMixtures(t *testing.T) {
	cases := []struct {
		name        string
		tau2, wide  float64
		theta0      float64
		d, v        float64
		wantReject  bool // the pair's one-sided p-value below 0.01
		wantSmaller bool // the pair's PGreater below the narrow mixture's alone
	}{
		{"LargeJumpSmallArm", 7.3e-4, 0.0365, 0, 0.27, 0.0055, true, true},
		{"ModerateShift", 1.4e-4, 0.0365, 0, 0.025, 4e-5, true, false},
		{"Nothing", 1.4e-4, 0.0365, 0, 0.0005, 4e-5, false, false},
		{"Margin", 2.5e-5, 1e-3, 0.01, -0.004, 1e-5, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			narrow := MixtureSPRT{Tau2: c.tau2, Theta0: c.theta0}.look(c.d, c.v)
			wide := MixtureSPRT{Tau2: c.wide, Theta0: c.theta0}.look(c.d, c.v)
			pair := MixtureSPRT{Tau2: c.tau2, Tau2Wide: c.wide, Theta0: c.theta0}.look(c.d, c.v)
			if !pair.Valid {
				t.Fatal("Valid = false")
			}
			MustClose(t, "LogLR", pair.LogLR, logMean(narrow.LogLR, wide.LogLR), 1e-12)
			MustClose(t, "LogLRGreater", pair.LogLRGreater, logMean(narrow.LogLRGreater, wide.LogLRGreater), 1e-12)
			MustClose(t, "LogLRLess", pair.LogLRLess, logMean(narrow.LogLRLess, wide.LogLRLess), 1e-12)
			if pair.Tau2 != c.tau2 || pair.Tau2Wide != c.wide {
				t.Errorf("result keeps Tau2 %v and Tau2Wide %v, want %v and %v", pair.Tau2, pair.Tau2Wide, c.tau2, c.wide)
			}
			for _, p := range []struct {
				name       string
				pair, a, b float64
			}{
				{"PValue", pair.PValue, narrow.PValue, wide.PValue},
				{"PGreater", pair.PGreater, narrow.PGreater, wide.PGreater},
				{"PLess", pair.PLess, narrow.PLess, wide.PLess},
			} {
				lo := math.Min(p.a, p.b)
				if p.pair < lo*(1-1e-12) || p.pair > math.Min(1, 2*lo)*(1+1e-12) {
					t.Errorf("%s = %v, want between min(%v, %v) and twice it", p.name, p.pair, p.a, p.b)
				}
			}
			if got := pair.PGreater < 0.01; got != c.wantReject {
				t.Errorf("PGreater = %v (narrow alone %v, wide alone %v), want below 0.01: %v", pair.PGreater, narrow.PGreater, wide.PGreater, c.wantReject)
			}
			if got := pair.PGreater < narrow.PGreater; got != c.wantSmaller {
				t.Errorf("PGreater = %v against the narrow mixture's %v: smaller %v, want %v", pair.PGreater, narrow.PGreater, got, c.wantSmaller)
			}
		})
	}
}

// TestMixtureSPRT_WideEqualIsTheSingleMixture: a second mixture equal to
// the first changes nothing, the interval included.
func TestMixtureSPRT_WideEqualIsTheSingleMixture(t *testing.T) {
	for _, c := range []struct{ tau2, theta0, d, v float64 }{
		{4e-4, 0, 0.03, 4e-5},
		{2.5e-5, 0.01, -0.004, 1e-5},
		{7.3e-4, 0, 0.27, 0.0055},
		{1e-4, 0, -0.001, 3e-5},
	} {
		one := MixtureSPRT{Tau2: c.tau2, Theta0: c.theta0}.look(c.d, c.v)
		two := MixtureSPRT{Tau2: c.tau2, Tau2Wide: c.tau2, Theta0: c.theta0}.look(c.d, c.v)
		MustClose(t, "LogLR", two.LogLR, one.LogLR, 1e-12)
		MustClose(t, "LogLRGreater", two.LogLRGreater, one.LogLRGreater, 1e-12)
		MustClose(t, "LogLRLess", two.LogLRLess, one.LogLRLess, 1e-12)
		MustClose(t, "PGreater", two.PGreater, one.PGreater, 1e-12)
		for _, alpha := range []float64{0.01, 0.05, 0.2} {
			a, b := one.Interval(alpha), two.Interval(alpha)
			MustClose(t, "Lo", b.Lo, a.Lo, 1e-9)
			MustClose(t, "Hi", b.Hi, a.Hi, 1e-9)
		}
	}
}

// TestMixtureSPRT_WideMonotone: for a fixed variance, the evidence grows
// with the distance of the estimate from the null: the two-sided p-value
// never rises as |Δ̂ − θ₀| grows, PGreater never rises as Δ̂ grows, and
// PLess never falls.
func TestMixtureSPRT_WideMonotone(t *testing.T) {
	m := MixtureSPRT{Tau2: 1e-4, Tau2Wide: 0.02}
	const v = 2e-4
	prev := m.look(0, v)
	for i := 1; i <= 400; i++ {
		d := float64(i) * 0.001
		r, neg := m.look(d, v), m.look(-d, v)
		if r.PValue > prev.PValue || r.PGreater > prev.PGreater || r.PLess < prev.PLess {
			t.Fatalf("at Δ̂ = %v: p %v, PGreater %v, PLess %v after %v, %v, %v", d, r.PValue, r.PGreater, r.PLess, prev.PValue, prev.PGreater, prev.PLess)
		}
		MustClose(t, "symmetric PValue", neg.PValue, r.PValue, 1e-12)
		MustClose(t, "mirrored PLess", neg.PLess, r.PGreater, 1e-12)
		prev = r
	}
	if prev.PGreater > 1e-10 {
		t.Errorf("PGreater at Δ̂ = 0.4 (28 standard errors) = %v, want tiny", prev.PGreater)
	}
}

// TestMixtureSPRT_WideIntervalIsDual: the pair's interval has at its ends
// exactly the nulls the pair rejects at alpha, and lies between the
// interval of the better single mixture at alpha and at alpha/2.
func TestMixtureSPRT_WideIntervalIsDual(t *testing.T) {
	for _, c := range []struct{ tau2, wide, d, v float64 }{
		{4e-4, 0.03, 0.012, 3e-5},
		{7.3e-4, 0.0365, 0.27, 0.0055},
		{1e-6, 1, 0.5, 1e-3},
	} {
		for _, alpha := range []float64{0.01, 0.05, 0.2} {
			m := MixtureSPRT{Tau2: c.tau2, Tau2Wide: c.wide}
			r := m.look(c.d, c.v)
			iv := r.Interval(alpha)
			for _, end := range []float64{iv.Lo, iv.Hi} {
				p := MixtureSPRT{Tau2: c.tau2, Tau2Wide: c.wide, Theta0: end}.look(c.d, c.v).PValue
				MustClose(t, "p at interval end", p, alpha, 1e-9)
			}
			half := func(tau2, alpha float64) float64 {
				return MixtureSPRT{Tau2: tau2}.look(c.d, c.v).Interval(alpha).Width() / 2
			}
			lo := math.Min(half(c.tau2, alpha), half(c.wide, alpha))
			hi := math.Min(half(c.tau2, alpha/2), half(c.wide, alpha/2))
			if w := iv.Width() / 2; w < lo*(1-1e-9) || w > hi*(1+1e-9) {
				t.Errorf("half-width %v at alpha %v, want between %v and %v", w, alpha, lo, hi)
			}
		}
	}
}

// TestMixtureSPRT_WideInvalid: the second mixture is optional, the first
// is not.
func TestMixtureSPRT_WideInvalid(t *testing.T) {
	if r := (MixtureSPRT{Tau2Wide: 0.01}).look(0.1, 1e-3); r.Valid || r.PGreater != 1 {
		t.Errorf("no Tau2 but a Tau2Wide: %+v, want invalid", r)
	}
	one := MixtureSPRT{Tau2: 1e-3}.look(0.1, 1e-3)
	for _, w := range []float64{0, -1, math.NaN()} {
		r := MixtureSPRT{Tau2: 1e-3, Tau2Wide: w}.look(0.1, 1e-3)
		if r.LogLR != one.LogLR || r.LogLRGreater != one.LogLRGreater {
			t.Errorf("Tau2Wide %v: LogLR %v, want the single mixture's %v", w, r.LogLR, one.LogLR)
		}
	}
}

// TestMixtureSPRT_WideKeepsTheLevel: under equal rates the pair, like each
// of its mixtures, rejects at level alpha in at most about alpha of the
// sequences of looks, however often it looks; the second mixture, tuned
// for a jump as large as a rate can make (the variance of a rate at 1/2),
// costs nothing in false alarms. The rates and the canary's size are
// TestProportions_RareEventsInASmallArm's, tuned as the analysis tunes a
// rate, and TestMixtureSPRT_ContinuousMonitoring's stage at alpha 0.05.
func TestMixtureSPRT_WideKeepsTheLevel(t *testing.T) {
	t.Run("RareEventsSmallArm", func(t *testing.T) {
		const (
			sims  = 2000
			level = 0.001
		)
		for _, p := range []float64{0.005, 0.03, 0.3} {
			rng := rand.New(rand.NewPCG(13, uint64(p*10000)))
			v := math.Max(p, 0.005)
			m := MixtureSPRT{Tau2: OptimalTau2(v*(1-v)/100, level), Tau2Wide: OptimalTau2(0.25/100, level)}
			oneSided, twoSided := smallArmRejections(m, rng, p, sims, level)
			for _, c := range []struct {
				name string
				n    int
			}{{"one-sided (PGreater)", oneSided}, {"two-sided", twoSided}} {
				if rate := float64(c.n) / sims; rate > 0.003 {
					t.Errorf("equal rates of %.3f: the %s pair at level %g rejected in %.2f%% of %d sequences, want at most about %g",
						p, c.name, level, 100*rate, sims, level)
				}
			}
		}
	})
	t.Run("StageAtAlpha", func(t *testing.T) {
		const alpha = 0.05
		stage := abRun{looks: 100, batch: 50, p1: 0.10, p2: 0.10}
		horizonV := 2 * 0.1 * 0.9 / float64(stage.looks*stage.batch)
		test := MixtureSPRT{Tau2: OptimalTau2(horizonV, alpha), Tau2Wide: OptimalTau2(2*0.25/float64(stage.looks*stage.batch), alpha)}
		runs := simRuns(500)
		rng := rand.New(rand.NewPCG(20220401, 3))
		var two, greater int
		for range runs {
			_, w, g := stage.simulate(t, rng, test, alpha)
			two, greater = two+b2i(w), greater+b2i(g)
		}
		rate := func(k int) float64 { return float64(k) / float64(runs) }
		t.Logf("A/A over %d looks, pair of mixtures: two-sided %.3f, one-sided %.3f", stage.looks, rate(two), rate(greater))
		if rate(two) > alpha+0.02 || rate(greater) > alpha+0.02 {
			t.Errorf("false-positive rate %.3f / %.3f, want ≤ %.2f", rate(two), rate(greater), alpha)
		}
	})
}

// TestProportions_WideSeesAJumpInAFewRequests is the trial's case: 10
// failures in a canary's first 37 payments requests against none in the
// baseline's 600, a rate tuned for the absolute floor of 0.5 points at a
// horizon of 100 requests and a level of 0.0025, as the analysis tunes the
// error rate. The single mixture, whose τ is about 2.7 points, leaves a
// 27-point jump at p ≈ 0.24; with the second mixture, tuned for the
// variance of a rate at 1/2, the same counts give p < 0.01.
func TestProportions_WideSeesAJumpInAFewRequests(t *testing.T) {
	const level = 0.0025
	narrow := OptimalTau2(0.005*0.995/100, level)
	single := MixtureSPRT{Tau2: narrow}.Proportions(0, 600, 10, 37)
	pair := MixtureSPRT{Tau2: narrow, Tau2Wide: OptimalTau2(0.25/100, level)}.Proportions(0, 600, 10, 37)
	t.Logf("one-sided p: single mixture %.4f, pair %.4f", single.PGreater, pair.PGreater)
	if single.PGreater < 0.1 {
		t.Errorf("single mixture's PGreater = %v: the premise (it is slow) no longer holds", single.PGreater)
	}
	if pair.PGreater > 0.01 {
		t.Errorf("pair's PGreater = %v, want below 0.01", pair.PGreater)
	}
}
