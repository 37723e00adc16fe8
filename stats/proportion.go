package stats

import "math"

// TwoProportionResult is the outcome of comparing a candidate's rate of some
// event (errors, refusals, thumbs-down) with the baseline's, at one fixed
// sample size.
type TwoProportionResult struct {
	// Valid is false when either arm has no trials or the counts are
	// impossible (negative, or more events than trials). The p-values are
	// then 1 and the intervals span [-1, 1], so a careless caller takes no
	// action on them.
	Valid bool
	// BaselineRate is x1/n1.
	BaselineRate float64
	// CandidateRate is x2/n2.
	CandidateRate float64
	// Diff is CandidateRate − BaselineRate.
	Diff float64
	// RelativeChange is Diff / BaselineRate, the lift; it is zero when the
	// baseline rate is zero and the ratio is undefined.
	RelativeChange float64
	// Z is the pooled two-proportion z statistic, positive when the
	// candidate's rate is higher. Its square is the Pearson chi-squared of
	// R's prop.test(correct = FALSE). It is zero when both arms are all
	// events or all non-events.
	Z float64
	// PValue is the two-sided p-value for equal rates.
	PValue float64
	// PGreater is the one-sided p-value for the alternative "the candidate's
	// rate is higher than the baseline's".
	PGreater float64
	// PLess is the one-sided p-value for the alternative "the candidate's
	// rate is lower than the baseline's".
	PLess float64
	// Wald is the unpooled Wald interval for Diff at level 1 − alpha, the
	// interval prop.test reports. It collapses to a point when both rates
	// are 0 or 1; prefer Newcombe.
	Wald Interval
	// Newcombe is Newcombe's hybrid score interval for Diff (method 10 of
	// Newcombe 1998), built from the two Wilson intervals. It keeps close to
	// its nominal coverage with small counts and zero events, the usual case
	// for error rates in a young canary.
	Newcombe Interval
}

// TwoProportion compares x2 events in n2 trials of the candidate with x1
// events in n1 trials of the baseline by the pooled two-proportion z-test
// (no continuity correction) and reports intervals for the difference at
// level 1 − alpha. An alpha outside (0, 1) means DefaultAlpha.
//
// The test is valid at a fixed, pre-planned sample size. A controller that
// looks again and again must use MixtureSPRT instead.
func TwoProportion(x1, n1, x2, n2 int, alpha float64) TwoProportionResult {
	res := TwoProportionResult{
		PValue: 1, PGreater: 1, PLess: 1,
		Wald:     Interval{Lo: -1, Hi: 1},
		Newcombe: Interval{Lo: -1, Hi: 1},
	}
	if !countsOK(x1, n1) || !countsOK(x2, n2) {
		return res
	}
	alpha = alphaOr(alpha)
	res.Valid = true
	f1, f2 := float64(n1), float64(n2)
	p1, p2 := float64(x1)/f1, float64(x2)/f2
	res.BaselineRate, res.CandidateRate = p1, p2
	res.Diff = p2 - p1
	if p1 > 0 {
		res.RelativeChange = res.Diff / p1
	}

	pool := float64(x1+x2) / (f1 + f2)
	if se0 := math.Sqrt(pool * (1 - pool) * (1/f1 + 1/f2)); se0 > 0 {
		res.Z = res.Diff / se0
		res.PValue, res.PGreater, res.PLess = zPValues(res.Z)
	}

	z := normQuantile(1 - alpha/2)
	se := math.Sqrt(p1*(1-p1)/f1 + p2*(1-p2)/f2)
	res.Wald = Interval{
		Lo: math.Max(-1, res.Diff-z*se),
		Hi: math.Min(1, res.Diff+z*se),
	}

	w1, w2 := wilson(x1, n1, z), wilson(x2, n2, z)
	res.Newcombe = Interval{
		Lo: res.Diff - math.Hypot(p2-w2.Lo, w1.Hi-p1),
		Hi: res.Diff + math.Hypot(w2.Hi-p2, p1-w1.Lo),
	}
	return res
}

// WilsonInterval returns the Wilson score interval for the proportion x/n at
// level 1 − alpha; an alpha outside (0, 1) means DefaultAlpha. Unlike the
// Wald interval it is never empty at 0 or n events, which is what a dashboard
// showing a canary's error rate needs. With no trials it is [0, 1].
func WilsonInterval(x, n int, alpha float64) Interval {
	if !countsOK(x, n) {
		return Interval{Lo: 0, Hi: 1}
	}
	return wilson(x, n, normQuantile(1-alphaOr(alpha)/2))
}

// wilson is the Wilson interval for valid counts and critical value z.
func wilson(x, n int, z float64) Interval {
	f := float64(n)
	p := float64(x) / f
	z2 := z * z
	d := 1 + z2/f
	c := (p + z2/(2*f)) / d
	h := z * math.Sqrt(p*(1-p)/f+z2/(4*f*f)) / d
	lo, hi := c-h, c+h
	// Snap the ends at 0 and n events, where rounding leaves ±1e-17.
	if x == 0 {
		lo = 0
	}
	if x == n {
		hi = 1
	}
	return Interval{Lo: math.Max(0, lo), Hi: math.Min(1, hi)}
}

// countsOK reports whether x events in n trials is a usable count.
func countsOK(x, n int) bool {
	return n > 0 && x >= 0 && x <= n
}
