package stats

import (
	"math"
	"testing"
)

// Quantile interpolates as sorted[lo] + frac*(sorted[lo+1]-sorted[lo]). When
// the next order statistic is +Inf, frac*(+Inf - x) is 0*Inf = NaN even when
// frac is 0 (the quantile falls exactly on a finite order statistic), and
// Inf - Inf is NaN when both neighbours are +Inf. R's quantile(type = 7)
// gives 2 and Inf here; numpy gives 2 and inf. The package promises results
// without NaN, and MannWhitneyU documents ±Inf as ordinary values.
func TestQuantileWithInfiniteValues(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		x    []float64
		q    float64
		want float64
	}{
		{[]float64{1, 2, inf}, 0.5, 2},       // h = 1 exactly: no interpolation at all
		{[]float64{1, inf, inf}, 0.75, inf},  // between two +Inf
		{[]float64{0, 10, 20, inf}, 0.5, 15}, // finite neighbours, +Inf elsewhere (sanity)
	}
	for _, c := range cases {
		if got := Quantile(c.x, c.q); got != c.want {
			t.Errorf("Quantile(%v, %v) = %v, want %v", c.x, c.q, got, c.want)
		}
	}
	// The same NaN leaks into a result struct.
	qs := QuantileSequence{Q: 0.5}
	res := qs.Diff([]float64{1, 2, inf}, []float64{1, 2, 3})
	if math.IsNaN(res.Baseline) || math.IsNaN(res.Diff) {
		t.Errorf("QuantileSequence.Diff: Baseline = %v, Diff = %v; want 2 and 0", res.Baseline, res.Diff)
	}
}
