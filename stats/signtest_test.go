package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSignTest_Counts(t *testing.T) {
	var s SignTest
	if r := s.Result(); r.Estimate != 0.5 || r.PValue != 1 || r.Pairs != 0 {
		t.Fatalf("zero SignTest = %+v", r)
	}
	s.Add([]float64{1, 2, 3, 4, 5}, []float64{2, 2, 1, math.NaN()})
	r := s.Result()
	want := SignResult{Pairs: 4, Wins: 1, Losses: 1, Ties: 2, Estimate: 0.5}
	if r.Pairs != want.Pairs || r.Wins != want.Wins || r.Losses != want.Losses || r.Ties != want.Ties || r.Estimate != want.Estimate {
		t.Errorf("Result = %+v, want counts %+v", r, want)
	}
}

func TestSignTest_Reference(t *testing.T) {
	// Twenty untied pairs with 14 wins and Horizon 100 (prior Beta(r/2,
	// r/2) with r = 100/8.2115 − 1): the two-sided log ratio must be the
	// beta-binomial Bayes factor, checked against R's numerical integral
	// in TestBetaMix_Reference, and since wins only rise above 10
	// after the first pairs, the running maximum is reached at the end.
	s := SignTest{Horizon: 100}
	base := make([]float64, 20)
	cand := make([]float64, 20)
	for i := range cand {
		if i < 14 {
			cand[i] = 1
		} else {
			cand[i] = -1
		}
	}
	s.Add(base, cand)
	m := newBetaMix(0.5, priorStrength(100, DefaultAlpha))
	var wantMax float64
	for k := 1; k <= 14; k++ {
		wantMax = math.Max(wantMax, m.log(float64(k), float64(k)))
	}
	for n := 15; n <= 20; n++ {
		wantMax = math.Max(wantMax, m.log(14, float64(n)))
	}
	MustClose(t, "MaxLogLR", s.MaxLogLR, wantMax, 1e-12)
	MustClose(t, "PValue", s.Result().PValue, math.Exp(-wantMax), 1e-12)
	if s.MaxLogLRLess != 0 {
		t.Errorf("MaxLogLRLess = %v, want 0 with wins ahead throughout", s.MaxLogLRLess)
	}
}

func TestSignTest_ContinuousMonitoring(t *testing.T) {
	// Latencies of two arms, one pair at a time, 1500 pairs; the p-values
	// are updated after every pair, the most frequent peeking there is.
	const (
		alpha = 0.05
		runs  = 300
		pairs = 1500
	)
	exp := func(scale float64) func(*rand.Rand) float64 {
		return func(r *rand.Rand) float64 { return scale * r.ExpFloat64() }
	}
	rounded := func(scale float64) func(*rand.Rand) float64 {
		return func(r *rand.Rand) float64 { return math.Round(scale * r.ExpFloat64()) }
	}
	tests := []struct {
		name        string
		base, cand  func(*rand.Rand) float64
		effect      bool
		minRejected float64
	}{
		{"AA", exp(200), exp(200), false, 0},
		{"AARoundedWithTies", rounded(5), rounded(5), false, 0},
		// 30% slower: P(candidate > baseline) = 1.3/2.3 ≈ 0.565.
		{"Slower30Percent", exp(200), exp(260), true, 0.9},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(17, uint64(i)))
			var two, greater, less int
			a, b := make([]float64, 1), make([]float64, 1)
			runs := simRuns(runs)
			for range runs {
				s := SignTest{Horizon: pairs}
				prev := 1.0
				for range pairs {
					a[0], b[0] = tt.base(rng), tt.cand(rng)
					s.Add(a, b)
					if p := s.Result().PValue; p > prev {
						t.Fatalf("p-value rose from %v to %v", prev, p)
					} else {
						prev = p
					}
				}
				r := s.Result()
				two += b2i(r.PValue <= alpha)
				greater += b2i(r.PGreater <= alpha)
				less += b2i(r.PLess <= alpha)
			}
			rate := func(k int) float64 { return float64(k) / float64(runs) }
			t.Logf("rejected: two-sided %.3f, greater %.3f, less %.3f", rate(two), rate(greater), rate(less))
			if !tt.effect {
				// Ville's inequality: ≤ alpha whatever the peeking; 0.02
				// covers the noise of 300 runs.
				for name, k := range map[string]int{"two-sided": two, "greater": greater, "less": less} {
					if rate(k) > alpha+0.02 {
						t.Errorf("%s false-positive rate %.3f, want ≤ %.2f", name, rate(k), alpha)
					}
				}
				return
			}
			if rate(greater) < tt.minRejected || rate(less) > alpha {
				t.Errorf("detected %.3f (want ≥ %.2f), wrong direction %.3f", rate(greater), tt.minRejected, rate(less))
			}
		})
	}
}

func BenchmarkSignTest_Add(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, y := make([]float64, 1000), make([]float64, 1000)
	for i := range x {
		x[i], y[i] = rng.ExpFloat64(), rng.ExpFloat64()
	}
	b.ReportAllocs()
	for b.Loop() {
		var s SignTest
		s.Add(x, y)
	}
}
