package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// WelchResult is the outcome of Welch's unequal-variances t-test of the
// difference between the candidate's and the baseline's means.
type WelchResult struct {
	// Valid is false when either arm has fewer than two observations or both
	// variances are zero; the p-values are then 1 and CI is unbounded.
	Valid bool
	// Diff is the candidate's mean minus the baseline's.
	Diff float64
	// StdErr is the standard error of Diff, √(s₁²/n₁ + s₂²/n₂).
	StdErr float64
	// T is Diff/StdErr, positive when the candidate's mean is higher.
	T float64
	// DF is the Welch–Satterthwaite degrees of freedom.
	DF float64
	// PValue is the two-sided p-value for equal means.
	PValue float64
	// PGreater is the one-sided p-value for the alternative "the candidate's
	// mean is higher".
	PGreater float64
	// PLess is the one-sided p-value for the alternative "the candidate's
	// mean is lower".
	PLess float64
	// CI is the interval for Diff at level 1 − alpha.
	CI Interval
}

// WelchT compares the candidate's mean with the baseline's by Welch's t-test,
// which does not assume equal variances, and gives the interval for the
// difference of means at level 1 − alpha; an alpha outside (0, 1) means
// DefaultAlpha. It matches R's t.test(candidate, baseline), whose default is
// Welch's test. Like TwoProportion it is for one look at a planned size.
func WelchT(baseline, candidate Summary, alpha float64) WelchResult {
	res := WelchResult{PValue: 1, PGreater: 1, PLess: 1, CI: unbounded}
	if baseline.N < 2 || candidate.N < 2 {
		return res
	}
	va := baseline.Variance / float64(baseline.N)
	vb := candidate.Variance / float64(candidate.N)
	se := math.Sqrt(va + vb)
	if !(se > 0) {
		return res
	}
	res.Valid = true
	res.Diff = candidate.Mean - baseline.Mean
	res.StdErr = se
	res.T = res.Diff / se
	res.DF = (va + vb) * (va + vb) /
		(va*va/float64(baseline.N-1) + vb*vb/float64(candidate.N-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: res.DF}
	res.PGreater = t.Survival(res.T)
	res.PLess = t.CDF(res.T)
	res.PValue = math.Min(1, 2*math.Min(res.PGreater, res.PLess))
	half := t.Quantile(1-alphaOr(alpha)/2) * se
	res.CI = Interval{Lo: res.Diff - half, Hi: res.Diff + half}
	return res
}

// CohensD returns the standardized difference of means, (candidate mean −
// baseline mean) divided by the pooled standard deviation. It is zero when
// either arm has fewer than two observations or the pooled deviation is zero.
func CohensD(baseline, candidate Summary) float64 {
	if baseline.N < 2 || candidate.N < 2 {
		return 0
	}
	df := float64(baseline.N + candidate.N - 2)
	pooled := math.Sqrt((float64(baseline.N-1)*baseline.Variance +
		float64(candidate.N-1)*candidate.Variance) / df)
	if !(pooled > 0) {
		return 0
	}
	return (candidate.Mean - baseline.Mean) / pooled
}

// HedgesG returns Cohen's d times the exact small-sample bias correction
// J(ν) = Γ(ν/2) / (√(ν/2) Γ((ν−1)/2)) with ν = n₁ + n₂ − 2 (Hedges 1981),
// which matters only for small arms; J is about 1 − 3/(4ν − 1).
func HedgesG(baseline, candidate Summary) float64 {
	d := CohensD(baseline, candidate)
	if d == 0 {
		return 0
	}
	nu := float64(baseline.N + candidate.N - 2)
	if nu < 2 {
		// Γ((ν−1)/2) has a pole at ν = 1: no correction is defined.
		return d
	}
	lg1, _ := math.Lgamma(nu / 2)
	lg2, _ := math.Lgamma((nu - 1) / 2)
	return d * math.Exp(lg1-lg2) / math.Sqrt(nu/2)
}
