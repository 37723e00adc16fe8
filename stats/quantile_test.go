package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBetaMix_Reference(t *testing.T) {
	// Expected values: log ∫ p^k (1−p)^(t−k) / (q^k (1−q)^(t−k)) dBeta(p;
	// q·r, (1−q)·r) by numerical integration in R 4.2.2 (integrate, rel.tol
	// 1e-12), checking the closed form through log-gamma.
	tests := []struct {
		name       string
		k, t, q, r float64
		want       float64
	}{
		{"Fair14of20", 14, 20, 0.5, 10, 0.551482244525044},
		{"P95Upper9of100", 9, 100, 0.05, 30, 0.0975430251946567},
		{"P95Lower3of100", 3, 100, 0.05, 30, -0.232441209324851},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			MustClose(t, "log M", newBetaMix(tt.q, tt.r).log(tt.k, tt.t), tt.want, 1e-9)
		})
	}
}

func TestBetaMix_ThresholdSmallest(t *testing.T) {
	thr := math.Log(40)
	for _, q := range []float64{0.01, 0.5, 0.95} {
		m := newBetaMix(q, priorStrength(1000, 0.025))
		for _, n := range []int{1, 10, 100, 1000, 100_000} {
			k := m.threshold(n, thr)
			if k > n {
				if m.log(float64(n), float64(n)) >= thr {
					t.Errorf("q %v n %d: no threshold, but k = n reaches it", q, n)
				}
				continue
			}
			if m.log(float64(k), float64(n)) < thr {
				t.Errorf("q %v n %d: k = %d does not reach the threshold", q, n, k)
			}
			if float64(k-1) >= q*float64(n-1) && m.log(float64(k-1), float64(n)) >= thr {
				t.Errorf("q %v n %d: k = %d is not the smallest", q, n, k)
			}
		}
	}
}

func TestQuantileSequence_Interval(t *testing.T) {
	t.Run("TooFewForP99", func(t *testing.T) {
		x := make([]float64, 50)
		for i := range x {
			x[i] = float64(i)
		}
		iv := QuantileSequence{Q: 0.99}.Interval(x)
		if !math.IsInf(iv.Hi, 1) {
			t.Errorf("p99 of 50 values bounded above: %v", iv)
		}
	})
	t.Run("InvalidQ", func(t *testing.T) {
		for _, q := range []float64{0, 1, -1, math.NaN()} {
			if iv := (QuantileSequence{Q: q}).Interval([]float64{1, 2, 3}); iv != unbounded {
				t.Errorf("Q = %v: %v, want unbounded", q, iv)
			}
		}
		if r := (QuantileSequence{Q: 2}).Diff([]float64{1}, []float64{2}); r.Valid || r.DiffCS != unbounded {
			t.Errorf("Diff with Q = 2: %+v", r)
		}
	})
	t.Run("InputUntouched", func(t *testing.T) {
		x := []float64{3, 1, 2}
		QuantileSequence{Q: 0.5}.Interval(x)
		if x[0] != 3 {
			t.Error("Interval sorted its argument in place")
		}
	})
	t.Run("ShrinksAroundMedian", func(t *testing.T) {
		// 0.5, 1.5, ..., n−0.5 shuffled: the median is n/2 and the
		// interval must hold it and narrow as n grows.
		rng := rand.New(rand.NewPCG(5, 5))
		prev := math.Inf(1)
		for _, n := range []int{100, 1000, 10_000} {
			x := make([]float64, n)
			for i := range x {
				x[i] = float64(i) + 0.5
			}
			rng.Shuffle(n, func(i, j int) { x[i], x[j] = x[j], x[i] })
			iv := QuantileSequence{Q: 0.5, Horizon: 1000}.Interval(x)
			if !iv.Contains(float64(n)/2) || iv.Width()/float64(n) >= prev {
				t.Errorf("n %d: %v (relative width %v, previous %v)", n, iv, iv.Width()/float64(n), prev)
			}
			prev = iv.Width() / float64(n)
		}
		// The interval is about ±52 ranks at n = 1000 (the horizon),
		// against ±31 for a one-look 95% interval: the price of looking
		// at every n.
		if prev > 0.1 {
			t.Errorf("relative width at n = 10000 is %v", prev)
		}
	})
}

func TestQuantileSequence_Coverage(t *testing.T) {
	// The interval must contain the true quantile at every one of 25
	// looks in at least 1 − alpha of the runs, for a continuous and for a
	// heavily tied (rounded) distribution.
	const (
		alpha = 0.05
		runs  = 200
		looks = 25
		batch = 80
	)
	tests := []struct {
		name string
		q    float64
		draw func(*rand.Rand) float64
		want float64
	}{
		// Exp(1): Q(q) = −log(1−q).
		{"ExponentialP90", 0.9, (*rand.Rand).ExpFloat64, -math.Log(0.1)},
		{"ExponentialP50", 0.5, (*rand.Rand).ExpFloat64, math.Log(2)},
		// ⌈10·Exp(1)⌉ has P(X ≤ k) = 1 − e^(−k/10), so its p90 is
		// ⌈10·log 10⌉ = 24, an atom with ties on both sides.
		{"RoundedP90", 0.9, func(r *rand.Rand) float64 { return math.Ceil(10 * r.ExpFloat64()) }, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(tt.q*100)))
			cs := QuantileSequence{Q: tt.q, Alpha: alpha, Horizon: looks * batch}
			runs := simRuns(runs)
			var missed int
			x := make([]float64, 0, looks*batch)
			for range runs {
				x = x[:0]
				miss := false
				for range looks {
					// Keep x sorted as it grows and call the sorted-input
					// core, so the test does not spend its time sorting.
					for range batch {
						v := tt.draw(rng)
						i, _ := slices.BinarySearch(x, v)
						x = slices.Insert(x, i, v)
					}
					if !cs.interval(x, alpha).Contains(tt.want) {
						miss = true
					}
				}
				missed += b2i(miss)
			}
			rate := float64(missed) / float64(runs)
			t.Logf("missed in %.3f of runs", rate)
			if rate > alpha {
				t.Errorf("missed the true quantile in %.3f of runs, want ≤ %.2f", rate, alpha)
			}
		})
	}
}

func TestQuantileSequence_Diff(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	latency := func(n int, scale float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = math.Round(scale * math.Exp(0.6*rng.NormFloat64()))
		}
		return x
	}
	cs := QuantileSequence{Q: 0.95, Horizon: 5000}
	t.Run("Regression", func(t *testing.T) {
		// The candidate is 30% slower throughout.
		base, cand := latency(20_000, 200), latency(5000, 260)
		r := cs.Diff(base, cand)
		if !r.Valid || !(r.DiffCS.Lo > 0) {
			t.Errorf("30%% slower p95 not detected: %+v", r)
		}
		sb, sc := slices.Clone(base), slices.Clone(cand)
		slices.Sort(sb)
		slices.Sort(sc)
		MustClose(t, "Diff", r.Diff, Quantile(sc, 0.95)-Quantile(sb, 0.95), 1e-12)
		if !r.DiffCS.Contains(r.Diff) || !r.BaselineCS.Contains(r.Baseline) || !r.CandidateCS.Contains(r.Candidate) {
			t.Errorf("intervals exclude their estimates: %+v", r)
		}
	})
	t.Run("Same", func(t *testing.T) {
		r := cs.Diff(latency(20_000, 200), latency(5000, 200))
		if !r.DiffCS.Contains(0) {
			t.Errorf("A/A difference interval %v excludes 0", r.DiffCS)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		r := cs.Diff(nil, latency(10, 200))
		if r.Valid || r.DiffCS != unbounded {
			t.Errorf("empty baseline: %+v", r)
		}
	})
	t.Run("Young", func(t *testing.T) {
		// Too few candidate requests to bound its p95 from above: the
		// difference is unbounded above but not NaN.
		r := cs.Diff(latency(5000, 200), latency(20, 200))
		if !math.IsInf(r.DiffCS.Hi, 1) || math.IsNaN(r.DiffCS.Lo) {
			t.Errorf("young canary: %+v", r.DiffCS)
		}
	})
}

func BenchmarkQuantileSequence_Diff(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	x, y := make([]float64, 20_000), make([]float64, 2000)
	for i := range x {
		x[i] = math.Round(rng.ExpFloat64() * 200)
	}
	for i := range y {
		y[i] = math.Round(rng.ExpFloat64() * 200)
	}
	cs := QuantileSequence{Q: 0.99, Horizon: 5000}
	b.ReportAllocs()
	for b.Loop() {
		cs.Diff(x, y)
	}
}
