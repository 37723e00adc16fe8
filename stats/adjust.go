package stats

import (
	"cmp"
	"math"
	"slices"
)

// A rollout judges several metrics (error rate, latency, refusals, cost) at
// once, and with five metrics at 5% each, one of them fails by chance about
// a fifth of the time. The adjustments below return p-values to compare
// with the family-wide alpha directly; they match R's p.adjust. NaN inputs
// are treated as 1 and every input is clamped to [0, 1].

// Bonferroni returns the Bonferroni-adjusted p-values min(1, m·p), which
// control the family-wise error rate under any dependence.
func Bonferroni(pvalues []float64) []float64 {
	m := float64(len(pvalues))
	out := make([]float64, len(pvalues))
	for i, p := range pvalues {
		out[i] = math.Min(1, m*clampP(p))
	}
	return out
}

// Holm returns Holm's step-down adjusted p-values (Holm 1979). They control
// the family-wise error rate under any dependence, like Bonferroni, and are
// never larger than Bonferroni's, so there is no reason to prefer the latter.
// The result is in the order of the input.
func Holm(pvalues []float64) []float64 {
	m := len(pvalues)
	out := make([]float64, m)
	running := 0.0
	for rank, i := range ascendingOrder(pvalues) {
		// The k-th smallest p-value is multiplied by m−k+1, and the
		// running maximum keeps the adjusted values in the same order.
		running = math.Max(running, math.Min(1, float64(m-rank)*clampP(pvalues[i])))
		out[i] = running
	}
	return out
}

// BenjaminiHochberg returns the Benjamini–Hochberg adjusted p-values (q-values
// of the step-up procedure), which control the false discovery rate for
// independent or positively dependent tests. It is for dashboards scanning
// many categories, not for the promote/rollback gate, which wants Holm.
func BenjaminiHochberg(pvalues []float64) []float64 {
	m := len(pvalues)
	out := make([]float64, m)
	order := ascendingOrder(pvalues)
	running := 1.0
	for rank := m - 1; rank >= 0; rank-- {
		i := order[rank]
		running = math.Min(running, float64(m)/float64(rank+1)*clampP(pvalues[i]))
		out[i] = running
	}
	return out
}

// ascendingOrder returns the indexes of p sorted by clamped value, ties kept
// in input order so the result is deterministic.
func ascendingOrder(p []float64) []int {
	order := make([]int, len(p))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(clampP(p[a]), clampP(p[b]))
	})
	return order
}

// clampP maps a p-value into [0, 1], reading NaN as 1 (no evidence).
func clampP(p float64) float64 {
	switch {
	case math.IsNaN(p) || p > 1:
		return 1
	case p < 0:
		return 0
	}
	return p
}
