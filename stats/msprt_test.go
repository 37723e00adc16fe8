package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestMixtureSPRT_ClosedForm(t *testing.T) {
	// Expected values: the mixture integrals ∫ φ(Δ̂; θ, V)/φ(Δ̂; θ₀, V) dπ(θ)
	// evaluated by numerical integration in R 4.2.2 (integrate, rel.tol
	// 1e-12), with π = N(θ₀, τ²) for the two-sided ratio and the
	// half-normal on each side for the one-sided ones. They check the
	// closed forms, the one-sided factor 2Φ(±s) and the role of Theta0.
	tests := []struct {
		name            string
		test            MixtureSPRT
		d, v            float64
		wantTwo, wantGt float64
		wantLt          float64
	}{
		{"Equality", MixtureSPRT{Tau2: 0.02 * 0.02}, 0.03, 4e-5,
			9.02832509087354, 9.72146921821095, -2.97784220961714},
		{"Margin", MixtureSPRT{Tau2: 0.005 * 0.005, Theta0: 0.01}, -0.004, 1e-5,
			6.37361851575232, -2.23344121758686, 7.06667428681805},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.test.look(tt.d, tt.v)
			if !r.Valid {
				t.Fatal("Valid = false")
			}
			MustClose(t, "LogLR", r.LogLR, tt.wantTwo, 1e-9)
			MustClose(t, "LogLRGreater", r.LogLRGreater, tt.wantGt, 1e-9)
			MustClose(t, "LogLRLess", r.LogLRLess, tt.wantLt, 1e-9)
			MustClose(t, "PValue", r.PValue, math.Exp(-tt.wantTwo), 1e-9)
		})
	}
	t.Run("MeansSummaries", func(t *testing.T) {
		// The "Equality" case built from summaries: V = 2·0.002/100.
		base := Summary{N: 100, Mean: 0.5, Variance: 0.002}
		cand := Summary{N: 100, Mean: 0.53, Variance: 0.002}
		r := MixtureSPRT{Tau2: 0.0004}.Means(base, cand)
		MustClose(t, "Variance", r.Variance, 4e-5, 1e-12)
		MustClose(t, "LogLR", r.LogLR, 9.02832509087354, 1e-9)
	})
	t.Run("ProportionsVariance", func(t *testing.T) {
		// Agresti–Caffo rates 3/102 and 11/102 for 2/100 and 10/100; the
		// baseline's is below the pooled rate 13/202's, which floors it.
		r := MixtureSPRT{Tau2: 1e-4}.Proportions(2, 100, 10, 100)
		want := (13.0/202)*(189.0/202)/100 + (11.0/102)*(91.0/102)/100
		MustClose(t, "Diff", r.Diff, 0.08, 1e-12)
		MustClose(t, "Variance", r.Variance, want, 1e-12)
	})
	t.Run("ProportionsIntervalVariance", func(t *testing.T) {
		// The interval's variance is each arm's own, Agresti–Caffo rates
		// 3/102 and 11/102, with no pooled floor.
		r := MixtureSPRT{Tau2: 1e-4}.ProportionsInterval(2, 100, 10, 100)
		want := (3.0/102)*(99.0/102)/100 + (11.0/102)*(91.0/102)/100
		MustClose(t, "Diff", r.Diff, 0.08, 1e-12)
		MustClose(t, "Variance", r.Variance, want, 1e-12)
	})
	t.Run("ProportionsVarianceAtTheBoundary", func(t *testing.T) {
		// A young canary's 36 tool requests, all answered with a call,
		// against a baseline's 870 of 1000: the candidate's own variance,
		// at 37/38, is floored by the pooled rate 907/1038's; the
		// baseline's own, at 871/1002, is above that and stays.
		r := MixtureSPRT{Tau2: 1e-4}.Proportions(870, 1000, 36, 36)
		want := (871.0/1002)*(131.0/1002)/1000 + (907.0/1038)*(131.0/1038)/36
		MustClose(t, "Variance", r.Variance, want, 1e-12)
	})
}

func TestMixtureSPRT_Invalid(t *testing.T) {
	tests := []struct {
		name string
		r    SequentialResult
	}{
		{"NoTau", MixtureSPRT{}.Proportions(1, 10, 2, 10)},
		{"NoTrials", MixtureSPRT{Tau2: 1e-4}.Proportions(0, 0, 2, 10)},
		{"ImpossibleCounts", MixtureSPRT{Tau2: 1e-4}.Proportions(5, 4, 2, 10)},
		{"OneObservation", MixtureSPRT{Tau2: 1}.Means(Summary{N: 1}, Summarize(sleepGroup1))},
		{"ZeroVariance", MixtureSPRT{Tau2: 1}.Means(Summary{N: 5, Mean: 1}, Summary{N: 5, Mean: 2})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.r.Valid || tt.r.PValue != 1 || tt.r.PGreater != 1 || tt.r.PLess != 1 || tt.r.LogLR != 0 {
				t.Errorf("result = %+v, want invalid with p-values 1", tt.r)
			}
			if iv := tt.r.Interval(0.05); iv != unbounded {
				t.Errorf("Interval = %v, want unbounded", iv)
			}
			var s SequentialState
			if s.Observe(tt.r); s.Looks != 0 || s.PValue() != 1 {
				t.Errorf("state after invalid look = %+v", s)
			}
		})
	}
	t.Run("ZeroStateIsNoEvidence", func(t *testing.T) {
		var s SequentialState
		if s.PValue() != 1 || s.PGreater() != 1 || s.PLess() != 1 {
			t.Error("zero SequentialState must give p-values of 1")
		}
	})
}

func TestSequentialResult_IntervalIsDual(t *testing.T) {
	// The interval's ends are exactly the nulls the look rejects at alpha.
	for _, alpha := range []float64{0.01, 0.05, 0.2} {
		r := MixtureSPRT{Tau2: 4e-4}.look(0.012, 3e-5)
		iv := r.Interval(alpha)
		for _, end := range []float64{iv.Lo, iv.Hi} {
			p := MixtureSPRT{Tau2: 4e-4, Theta0: end}.look(0.012, 3e-5).PValue
			MustClose(t, "p at interval end", p, alpha, 1e-9)
		}
		if !iv.Contains(r.Diff) {
			t.Errorf("interval %v excludes the estimate %v", iv, r.Diff)
		}
	}
}

func TestOptimalTau2_MinimizesWidth(t *testing.T) {
	const v = 2.5e-5
	tau2 := OptimalTau2(v, 0.05)
	// r solves r = 2 log 20 + log(1 + r); r ≈ 8.21 at α = 0.05.
	MustClose(t, "ratio", tau2/v, 2*math.Log(20)+math.Log1p(tau2/v), 1e-9)
	MustClose(t, "ratio≈8.21", tau2/v, 8.21, 1e-3)
	width := func(tau2 float64) float64 {
		return MixtureSPRT{Tau2: tau2}.look(0, v).Interval(0.05).Width()
	}
	for _, f := range []float64{0.5, 0.9, 1.1, 2} {
		if width(tau2*f) <= width(tau2) {
			t.Errorf("width at %.1f·τ² = %v, not above the optimum's %v", f, width(tau2*f), width(tau2))
		}
	}
	if OptimalTau2(0, 0.05) != 0 {
		t.Error("OptimalTau2(0) must be 0")
	}
}

// abRun is one simulated rollout stage: looks at cumulative counts of two
// Bernoulli arms, batch new trials per arm between looks.
type abRun struct {
	looks, batch int
	p1, p2       float64
}

// simulate returns whether, at any look, the naive fixed-horizon z-test,
// the two-sided mSPRT, and the one-sided mSPRT for "candidate higher"
// reached p ≤ alpha; it also fails t if the running p-values ever rise.
func (ab abRun) simulate(t *testing.T, rng *rand.Rand, test MixtureSPRT, alpha float64) (naive, two, greater bool) {
	t.Helper()
	var x1, x2, n int
	var state SequentialState
	var ivs IntervalState
	prev := 1.0
	for range ab.looks {
		for range ab.batch {
			if rng.Float64() < ab.p1 {
				x1++
			}
			if rng.Float64() < ab.p2 {
				x2++
			}
		}
		n += ab.batch
		if TwoProportion(x1, n, x2, n, alpha).PValue <= alpha {
			naive = true
		}
		look := test.Proportions(x1, n, x2, n)
		r := state.Observe(look)
		if r.PValue > prev {
			t.Fatalf("always-valid p-value rose from %v to %v", prev, r.PValue)
		}
		prev = r.PValue
		iv := ivs.Observe(look.Interval(alpha))
		// Duality: the running interval excludes the null exactly when
		// the running p-value reaches alpha (up to rounding at the edge).
		if excl := !iv.Contains(0); excl != (r.PValue <= alpha) && math.Abs(r.PValue-alpha) > 1e-9 {
			t.Fatalf("interval %v and p-value %v disagree", iv, r.PValue)
		}
	}
	return naive, state.PValue() <= alpha, state.PGreater() <= alpha
}

func TestMixtureSPRT_ContinuousMonitoring(t *testing.T) {
	// A stage of 100 looks, 50 new requests per arm between looks, error
	// rate 10%: the controller re-checking every 10 s for a quarter hour.
	const (
		alpha = 0.05
		runs  = 500
	)
	stage := abRun{looks: 100, batch: 50, p1: 0.10, p2: 0.10}
	horizonV := 2 * 0.1 * 0.9 / float64(stage.looks*stage.batch)
	test := MixtureSPRT{Tau2: OptimalTau2(horizonV, alpha)}

	t.Run("AAFalsePositives", func(t *testing.T) {
		runs := simRuns(runs)
		rng := rand.New(rand.NewPCG(20220401, 1))
		var naive, two, greater int
		for range runs {
			n, w, g := stage.simulate(t, rng, test, alpha)
			naive, two, greater = naive+b2i(n), two+b2i(w), greater+b2i(g)
		}
		rate := func(k int) float64 { return float64(k) / float64(runs) }
		t.Logf("A/A over %d looks: naive z-test %.3f, mSPRT two-sided %.3f, one-sided %.3f",
			stage.looks, rate(naive), rate(two), rate(greater))
		// Ville's inequality promises ≤ alpha; 0.02 of slack covers the
		// binomial noise of 500 runs (sd ≈ 0.01).
		if rate(two) > alpha+0.02 || rate(greater) > alpha+0.02 {
			t.Errorf("mSPRT false-positive rate %.3f / %.3f, want ≤ %.2f", rate(two), rate(greater), alpha)
		}
		// Peeking at a fixed-horizon test a hundred times inflates its
		// error several-fold (Armitage, McPherson and Rowe 1969).
		if rate(naive) < 3*alpha {
			t.Errorf("naive repeated z-test false-positive rate %.3f, want well above %.2f", rate(naive), alpha)
		}
	})

	t.Run("PowerForRealRegression", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(20220401, 2))
		regressed := stage
		regressed.p2 = 0.13
		runs := simRuns(200)
		var detected int
		for range runs {
			_, _, g := regressed.simulate(t, rng, test, alpha)
			detected += b2i(g)
		}
		power := float64(detected) / float64(runs)
		t.Logf("power against 10%% → 13%%: %.3f", power)
		if power < 0.9 {
			t.Errorf("power against 10%% → 13%% = %.3f, want ≥ 0.9", power)
		}
	})
}

func TestMixtureSPRT_MeansCoverage(t *testing.T) {
	// Lognormal "latencies" with a true mean difference of 5 ms: the
	// running confidence sequence must cover it at all 100 looks in at
	// least 1 − alpha of the runs, and the two-sided test must not reject
	// the true difference more often than alpha.
	const (
		alpha = 0.05
		looks = 100
		batch = 40
		shift = 5.0
	)
	runs := simRuns(300)
	rng := rand.New(rand.NewPCG(7, 7))
	sd := 100 * math.Sqrt(math.Exp(0.25)-1) * math.Exp(0.125) // lognormal σ = 0.5, scale 100
	horizonV := 2 * sd * sd / (looks * batch)
	var missed int
	for range runs {
		test := MixtureSPRT{Tau2: OptimalTau2(horizonV, alpha), Theta0: shift}
		var sa, sb, qa, qb float64
		var state SequentialState
		var ivs IntervalState
		for k := 1; k <= looks; k++ {
			for range batch {
				a := 100 * math.Exp(0.5*rng.NormFloat64())
				b := 100*math.Exp(0.5*rng.NormFloat64()) + shift
				sa, qa, sb, qb = sa+a, qa+a*a, sb+b, qb+b*b
			}
			n := k * batch
			look := test.Means(SummaryFromMoments(n, sa, qa), SummaryFromMoments(n, sb, qb))
			state.Observe(look)
			ivs.Observe(look.Interval(alpha))
		}
		if !ivs.Current.Contains(shift) {
			missed++
			if state.PValue() > alpha {
				t.Fatalf("interval %v missed but p = %v", ivs.Current, state.PValue())
			}
		}
	}
	if rate := float64(missed) / float64(runs); rate > alpha+0.025 {
		t.Errorf("confidence sequence missed the true difference in %.3f of runs, want ≤ %.2f", rate, alpha)
	}
}

func TestIntervalState_Intersects(t *testing.T) {
	var s IntervalState
	if got := s.Observe(unbounded); got != unbounded || s.Looks != 0 {
		t.Fatalf("first unbounded look = %v, looks %d", got, s.Looks)
	}
	steps := []struct {
		in, want Interval
	}{
		{Interval{-2, 3}, Interval{-2, 3}},
		{Interval{-3, 2}, Interval{-2, 2}},
		{unbounded, Interval{-2, 2}},
		{Interval{-1, 5}, Interval{-1, 2}},
	}
	for _, st := range steps {
		if got := s.Observe(st.in); got != st.want {
			t.Errorf("Observe(%v) = %v, want %v", st.in, got, st.want)
		}
	}
	if s.Looks != 3 {
		t.Errorf("Looks = %d, want 3", s.Looks)
	}
}

// TestProportions_RareEventsInASmallArm: the floor is the larger of each
// arm's own variance and the pooled rate's, not the pooled variance alone,
// though that is the textbook variance under equal rates. With rare events
// (an error rate of 1%) a canary 1/50 the baseline's size expects a third
// of an event in its first 36 requests, so one or two errors there are far
// out in a skewed tail that the normal approximation with the pooled
// variance reads as a few standard errors. With the pooled variance alone
// this test rejected equal rates at level 0.001 in 2.30% of 2000 sequences
// at 0.005 one-sided (the test a rate such as the error rate uses) and
// 1.70% two-sided, 0.75% two-sided at 0.01, and 0.50% and 0.35% at 0.03.
// The candidate's own variance, the larger here, keeps the max at none.
func TestProportions_RareEventsInASmallArm(t *testing.T) {
	const (
		sims  = 2000
		level = 0.001
	)
	for _, p := range []float64{0.01, 0.005, 0.03} {
		rng := rand.New(rand.NewPCG(11, uint64(p*10000)))
		// Tuned as the analysis tunes a rate: its variance, never below
		// the absolute floor's (0.5 points), at a horizon of 100.
		v := math.Max(p, 0.005)
		m := MixtureSPRT{Tau2: OptimalTau2(v*(1-v)/100, level)}
		oneSided, twoSided := smallArmRejections(m, rng, p, sims, level)
		for _, c := range []struct {
			name string
			n    int
		}{{"one-sided (PGreater)", oneSided}, {"two-sided", twoSided}} {
			if rate := float64(c.n) / sims; rate > 0.003 {
				t.Errorf("equal rates of %.3f, a canary 1/50 of the traffic: the %s test at level %g rejected in %.2f%% of %d sequences, want at most about %g",
					p, c.name, level, 100*rate, sims, level)
			}
		}
	}
}

// b2i is 1 for true.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestProportions_CalibratedNearTheBoundary: two equal rates near 100% (a
// tool-call rate of 87%), a large baseline and a canary 1/50 its size,
// looked at every 4 candidate requests from 4 to 400, as a rollout's
// analysis looks. An always-valid test at level 0.001 must reject in at
// most about 0.1% of such sequences, whenever it looks. With each arm's
// own variance a candidate that happened to answer its first few dozen
// requests all one way (36 of 36) had a variance a tenth of the true one,
// and the test rejected in 1.90% of sequences at 0.87 and 0.95, 0.35% at
// 0.5 and 1.70% at 0.03 (the canary analysis rolled back 4 of 100 A/A
// rollouts in the simulator, each on the tool-call rate of a small
// category). With the pooled floor: none of 2000 at any of the four.
func TestProportions_CalibratedNearTheBoundary(t *testing.T) {
	const (
		sims  = 2000
		level = 0.001
	)
	for _, p := range []float64{0.87, 0.95, 0.5, 0.03} {
		rng := rand.New(rand.NewPCG(7, uint64(p*1000)))
		// Tuned as the analysis tunes it: for the rate's variance at a
		// horizon of 100 candidate requests.
		m := MixtureSPRT{Tau2: OptimalTau2(p*(1-p)/100, level)}
		rejected := 0
		for range sims {
			xb, nb, xc, nc := 0, 0, 0, 0
			for range 100 {
				for range 4 {
					nc++
					if rng.Float64() < p {
						xc++
					}
				}
				for range 4 * 49 {
					nb++
					if rng.Float64() < p {
						xb++
					}
				}
				if nc >= 30 && m.Proportions(xb, nb, xc, nc).PValue <= level {
					rejected++
					break
				}
			}
		}
		// 0.003 leaves room for the Monte Carlo error at 2000 sequences
		// (a binomial at 0.001 exceeds 6 of 2000 with probability 0.5%).
		if rate := float64(rejected) / sims; rate > 0.003 {
			t.Errorf("equal rates of %.2f: the test at level %g rejected in %.2f%% of %d sequences, want at most about %g", p, level, 100*rate, sims, level)
		}
	}
}

// smallArmRejections runs sims sequences of 200 looks at equal rates p, a
// canary of 4 requests a look against a baseline 49 times its size, the
// canary tested from its 30th request on, and counts those in which m
// rejected at level, one-sided (PGreater) and two-sided.
func smallArmRejections(m MixtureSPRT, rng *rand.Rand, p float64, sims int, level float64) (oneSided, twoSided int) {
	for range sims {
		xb, nb, xc, nc := 0, 0, 0, 0
		one, two := false, false
		for range 200 {
			for range 4 {
				nc++
				xc += b2i(rng.Float64() < p)
			}
			for range 4 * 49 {
				nb++
				xb += b2i(rng.Float64() < p)
			}
			if nc < 30 {
				continue
			}
			r := m.Proportions(xb, nb, xc, nc)
			one = one || r.PGreater <= level
			two = two || r.PValue <= level
		}
		oneSided += b2i(one)
		twoSided += b2i(two)
	}
	return oneSided, twoSided
}
