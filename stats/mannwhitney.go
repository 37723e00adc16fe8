package stats

import (
	"math"
	"slices"
)

// MWUResult is the outcome of a Mann–Whitney U (Wilcoxon rank-sum) test of
// whether the candidate's values tend to be larger than the baseline's, as
// with latencies or token counts whose distributions are far from normal.
type MWUResult struct {
	// Valid is false when either sample is empty after NaNs are dropped; the
	// p-values are then 1 and the effect sizes zero.
	Valid bool
	// NA and NB are the sizes of the baseline and candidate samples, NaNs
	// not counted.
	NA, NB int
	// U counts the pairs (a, b) with b > a, ties counting one half. It is
	// the U of the candidate sample; the baseline's is NA·NB − U. R's
	// wilcox.test(b, a) reports it as W.
	U float64
	// Z is (U − NA·NB/2)/σ with the tie-corrected σ and no continuity
	// correction; positive when the candidate's values tend to be larger.
	// It is zero when every value is tied.
	Z float64
	// PValue is the two-sided p-value of the normal approximation with tie
	// and continuity corrections, as wilcox.test(exact = FALSE) and scipy's
	// mannwhitneyu(method = "asymptotic") compute it.
	PValue float64
	// PGreater is the one-sided p-value for the alternative "candidate
	// values tend to be larger".
	PGreater float64
	// PLess is the one-sided p-value for the alternative "candidate values
	// tend to be smaller".
	PLess float64
	// CommonLanguage is U/(NA·NB), the probability that a random candidate
	// value exceeds a random baseline value (ties counting one half); 0.5
	// means no tendency either way.
	CommonLanguage float64
	// RankBiserial is 2·CommonLanguage − 1, the rank-biserial correlation in
	// [-1, 1]; positive when candidate values tend to be larger.
	RankBiserial float64
}

// MannWhitneyU compares candidate values b with baseline values a by the
// Mann–Whitney U test. It sorts copies of both samples and merges them, so it
// runs in O((n+m) log(n+m)) time and leaves its arguments untouched. NaNs are
// dropped; ±Inf are ordinary values.
//
// Like every fixed-horizon test it is valid for one look at a pre-planned
// sample size; for repeated looks use SignTest or QuantileSequence.
func MannWhitneyU(a, b []float64) MWUResult {
	sa, sb := sortedFinite(a), sortedFinite(b)
	res := MWUResult{NA: len(sa), NB: len(sb), PValue: 1, PGreater: 1, PLess: 1}
	if len(sa) == 0 || len(sb) == 0 {
		return res
	}
	res.Valid = true
	n, m := float64(len(sa)), float64(len(sb))
	total := n + m

	// Walk both sorted samples as one, a block of equal values at a time:
	// every value in a block gets the block's average rank, and each block
	// of t values shrinks the variance by t³ − t.
	var rankSumB, tieSum, rank float64
	i, j := 0, 0
	for i < len(sa) || j < len(sb) {
		var v float64
		switch {
		case i == len(sa):
			v = sb[j]
		case j == len(sb):
			v = sa[i]
		default:
			v = math.Min(sa[i], sb[j])
		}
		ca, cb := 0, 0
		for i < len(sa) && sa[i] == v {
			i++
			ca++
		}
		for j < len(sb) && sb[j] == v {
			j++
			cb++
		}
		t := float64(ca + cb)
		rankSumB += float64(cb) * (rank + (t+1)/2)
		rank += t
		if t > 1 {
			tieSum += t*t*t - t
		}
	}

	res.U = rankSumB - m*(m+1)/2
	res.CommonLanguage = res.U / (n * m)
	res.RankBiserial = 2*res.CommonLanguage - 1

	mu := n * m / 2
	sigma := math.Sqrt(n * m / 12 * ((total + 1) - tieSum/(total*(total-1))))
	if !(sigma > 0) {
		return res
	}
	d := res.U - mu
	res.Z = d / sigma
	// The continuity correction moves U half a step towards the mean, as R
	// and scipy do; the two-sided value corrects towards the mean on
	// whichever side U falls.
	res.PGreater = normSF((d - 0.5) / sigma)
	res.PLess = normCDF((d + 0.5) / sigma)
	switch {
	case d > 0:
		res.PValue = math.Min(1, 2*normSF((d-0.5)/sigma))
	case d < 0:
		res.PValue = math.Min(1, 2*normCDF((d+0.5)/sigma))
	}
	return res
}

// sortedFinite returns an ascending copy of x without NaNs.
func sortedFinite(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}
