package stats

import (
	"math/rand/v2"
	"testing"
)

func TestHolmWeighted(t *testing.T) {
	p := []float64{0.01, 0.04, 0.03, 0.005, 0.5}
	t.Run("EqualWeightsAreHolm", func(t *testing.T) {
		got, want := HolmWeighted(p, []float64{2, 2, 2, 2, 2}), Holm(p)
		for i := range p {
			MustClose(t, "adjusted", got[i], want[i], 1e-12)
		}
	})
	t.Run("Weighted", func(t *testing.T) {
		// Weights 0.5 and 0.25, 0.25: order by p/w = 0.02, 0.16, 0.12 →
		// 0.02·1, 0.12·0.5, 0.16·0.25 → running max 0.02, 0.06, 0.06.
		got := HolmWeighted([]float64{0.01, 0.04, 0.03}, []float64{0.5, 0.25, 0.25})
		for i, want := range []float64{0.02, 0.06, 0.06} {
			MustClose(t, "adjusted", got[i], want, 1e-12)
		}
	})
	t.Run("ZeroWeight", func(t *testing.T) {
		got := HolmWeighted([]float64{0.001, 0.01}, []float64{0, 1})
		if got[0] != 1 || got[1] != 0.01 {
			t.Errorf("got %v", got)
		}
	})
	t.Run("FamilyWiseError", func(t *testing.T) {
		// Ten true nulls with uneven weights: rejecting when the adjusted
		// p-value is at most 0.05 must happen in at most 5% of families.
		rng := rand.New(rand.NewPCG(9, 9))
		w := []float64{5, 5, 1, 1, 1, 1, 1, 1, 1, 1}
		p := make([]float64, len(w))
		bad := 0
		const runs = 20000
		for range runs {
			for i := range p {
				p[i] = rng.Float64()
			}
			for _, a := range HolmWeighted(p, w) {
				if a <= 0.05 {
					bad++
					break
				}
			}
		}
		if rate := float64(bad) / runs; rate > 0.055 {
			t.Errorf("family-wise error %.4f, want ≤ 0.05", rate)
		}
	})
}
