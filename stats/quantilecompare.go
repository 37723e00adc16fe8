package stats

import (
	"math"
	"sort"
)

// IntervalSorted is Interval for a sample that is already in ascending
// order and free of NaNs, such as a window the caller keeps sorted as it
// grows. It neither copies nor sorts, so a controller that looks every few
// seconds at a large window pays O(log n) per look instead of O(n log n).
// The result is meaningless if sorted is not ascending.
func (c QuantileSequence) IntervalSorted(sorted []float64) Interval {
	return c.interval(sorted, alphaOr(c.Alpha))
}

// PGreaterSorted returns an always-valid p-value for the null hypothesis
// that the candidate's Q-quantile is at most ratio times the baseline's,
// against the alternative that it is larger: ratio 1 asks "is the
// candidate's p99 worse at all", ratio 1.2 "is it worse by more than 20%".
// Both samples must be ascending and free of NaNs, and the metric must be
// nonnegative (a latency, a length) for the ratio to make sense; ratio must
// be positive.
//
// It is the test that the confidence sequences of IntervalSorted invert,
// with the error spent half on each arm: for a cut v, the count of
// candidate values above v is evidence that the candidate's quantile
// exceeds v, and the count of baseline values below v/ratio that the
// baseline's is below v/ratio; each count is scored by the beta-binomial
// mixture martingale of the Interval methods, and the p-value is the
// smallest, over cuts v at candidate values, of twice the larger of the two
// reciprocal martingales. If the null holds, every cut has one of the two
// statements false, and each of those is made, at any look, with probability
// at most half the level (Ville's inequality), so the p-value may be read
// after every batch for as long as the comparison lasts. Searching over v
// costs O(log² n).
//
// The mixture is tuned at c.Horizon and c.Alpha, which must be fixed before
// the data are seen; c.Alpha does not change the p-value's validity, only
// where it is sharpest. It returns 1 when Q is outside (0, 1), ratio is not
// positive, or either sample is empty.
func (c QuantileSequence) PGreaterSorted(baseline, candidate []float64, ratio float64) float64 {
	tb, tc := len(baseline), len(candidate)
	if !(c.Q > 0 && c.Q < 1) || !(ratio > 0) || tb == 0 || tc == 0 {
		return 1
	}
	horizon := c.Horizon
	if horizon <= 0 {
		horizon = DefaultHorizon
	}
	r := priorStrength(horizon, alphaOr(c.Alpha)/2)
	above := newBetaMix(1-c.Q, r) // candidate values above its quantile: probability ≤ 1−Q each
	below := newBetaMix(c.Q, r)   // baseline values below its quantile: probability ≤ Q each
	// pc(j) and pb(j) are the two p-values for the cut just below
	// candidate[j]; pc rises with j and pb falls, so the best cut is where
	// they cross.
	pc := func(j int) float64 {
		k := tc - sort.SearchFloat64s(candidate, candidate[j]) // values ≥ candidate[j]
		return mixP(above, k, tc)
	}
	pb := func(j int) float64 {
		k := sort.SearchFloat64s(baseline, candidate[j]/ratio) // values < candidate[j]/ratio
		return mixP(below, k, tb)
	}
	// The first j where pc(j) ≥ pb(j).
	j := sort.Search(tc, func(j int) bool { return pc(j) >= pb(j) })
	best := 1.0
	for _, i := range []int{j - 1, j} {
		if i >= 0 && i < tc {
			best = math.Min(best, math.Max(pc(i), pb(i)))
		}
	}
	return math.Min(1, 2*best)
}

// mixP is the p-value of k successes in t trials under m: the reciprocal of
// the mixture martingale on its increasing side, and 1 below it (too few
// successes are no evidence for the alternative).
func mixP(m betaMix, k, t int) float64 {
	if k <= 0 || k < int(math.Ceil(m.q*float64(t-1))) {
		return 1
	}
	return math.Min(1, math.Exp(-m.log(float64(k), float64(t))))
}
