package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantileSequence_IntervalSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 3000)
	for i := range x {
		x[i] = math.Exp(rng.NormFloat64())
	}
	c := QuantileSequence{Q: 0.95, Alpha: 0.05, Horizon: 2000}
	want := c.Interval(x)
	slices.Sort(x)
	if got := c.IntervalSorted(x); got != want {
		t.Errorf("IntervalSorted = %v, Interval = %v", got, want)
	}
}

// TestQuantileSequence_PGreaterSorted checks that the p-value is the dual of
// the per-arm confidence sequences (p ≤ α exactly when the candidate's lower
// end exceeds ratio times the baseline's upper end at level α), that it
// finds a clear regression and not an identical distribution.
func TestQuantileSequence_PGreaterSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(n int, scale, sigma float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = scale * math.Exp(sigma*rng.NormFloat64())
		}
		slices.Sort(x)
		return x
	}
	t.Run("Dual", func(t *testing.T) {
		for i := range 200 {
			nb, nc := 200+rng.IntN(4000), 50+rng.IntN(2000)
			q := []float64{0.5, 0.95, 0.99}[i%3]
			ratio := []float64{1, 1.2}[i%2]
			b, c := draw(nb, 100, 0.6), draw(nc, 100*(1+0.5*rng.Float64()), 0.6)
			const alpha = 0.01
			seq := QuantileSequence{Q: q, Alpha: alpha, Horizon: 1000}
			p := seq.PGreaterSorted(b, c, ratio)
			lo, hi := seq.IntervalSorted(c).Lo, seq.IntervalSorted(b).Hi
			if reject := lo > ratio*hi; reject != (p <= alpha) {
				t.Fatalf("q=%v ratio=%v nb=%d nc=%d: p=%v but interval test says %v (lo %v, ratio·hi %v)", q, ratio, nb, nc, p, reject, lo, ratio*hi)
			}
		}
	})
	t.Run("FindsRegression", func(t *testing.T) {
		b, c := draw(20000, 100, 0.5), draw(2000, 150, 0.5)
		if p := (QuantileSequence{Q: 0.5}).PGreaterSorted(b, c, 1.2); p > 1e-6 {
			t.Errorf("p50 +50%% vs threshold +20%%: p = %v, want tiny", p)
		}
		if p := (QuantileSequence{Q: 0.5}).PGreaterSorted(c, b, 1); p != 1 {
			t.Errorf("a faster candidate: p = %v, want 1", p)
		}
	})
	t.Run("ErrEmpty", func(t *testing.T) {
		if p := (QuantileSequence{Q: 0.5}).PGreaterSorted(nil, []float64{1}, 1); p != 1 {
			t.Errorf("p = %v, want 1", p)
		}
		if p := (QuantileSequence{Q: 0.5}).PGreaterSorted([]float64{1}, []float64{2}, 0); p != 1 {
			t.Errorf("ratio 0: p = %v, want 1", p)
		}
	})
}

// TestQuantileSequence_PGreaterSortedMonitoring peeks after every batch of
// an A/A comparison and counts runs whose p-value ever reaches α: always
// valid means at most α of them.
func TestQuantileSequence_PGreaterSortedMonitoring(t *testing.T) {
	const alpha = 0.05
	runs := simRuns(200)
	rng := rand.New(rand.NewPCG(5, 6))
	seq := QuantileSequence{Q: 0.9, Alpha: alpha, Horizon: 500}
	alarms := 0
	for range runs {
		var b, c []float64
		for range 20 {
			for range 200 {
				b = append(b, math.Exp(rng.NormFloat64()))
			}
			for range 50 {
				c = append(c, math.Exp(rng.NormFloat64()))
			}
			slices.Sort(b)
			slices.Sort(c)
			if seq.PGreaterSorted(b, c, 1) <= alpha {
				alarms++
				break
			}
		}
	}
	rate := float64(alarms) / float64(runs)
	t.Logf("false alarms: %d of %d runs", alarms, runs)
	if rate > alpha {
		t.Errorf("false alarms under continuous monitoring: %.3f, want ≤ %v", rate, alpha)
	}
}
