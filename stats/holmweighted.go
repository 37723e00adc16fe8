package stats

import (
	"cmp"
	"math"
	"slices"
)

// HolmWeighted returns the adjusted p-values of Holm's weighted step-down
// procedure (Holm 1979, section 5): hypothesis i gets the share
// weights[i]/Σweights of the family's error, so that a family can spend
// more of it where power matters most, such as the all-traffic metrics of
// a canary against its many per-category ones. Hypotheses are taken in
// order of p/weight, and the k-th is adjusted to its p/weight times the
// weight of the hypotheses not yet rejected, with a running maximum, so it
// controls the family-wise error rate under any dependence, like Holm. With
// equal weights it is Holm. weights must be as long as pvalues; a weight
// that is not positive gives an adjusted p-value of 1 and takes none of the
// error. The result is in the order of the input.
func HolmWeighted(pvalues, weights []float64) []float64 {
	m := len(pvalues)
	out := make([]float64, m)
	total := 0.0
	order := make([]int, 0, m)
	for i := range pvalues {
		out[i] = 1
		if i < len(weights) && weights[i] > 0 && !math.IsInf(weights[i], 1) {
			total += weights[i]
			order = append(order, i)
		}
	}
	key := func(i int) float64 { return clampP(pvalues[i]) / weights[i] }
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(key(a), key(b)) })
	left, running := total, 0.0
	for _, i := range order {
		// p/(w/total) is compared with alpha·(left/total): the total cancels.
		running = math.Max(running, math.Min(1, key(i)*left))
		out[i] = running
		left -= weights[i]
	}
	return out
}
