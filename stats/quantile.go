package stats

import "math"

// DefaultHorizon is the sample size per arm at which the nonparametric
// sequential methods are tuned when none is given.
const DefaultHorizon = 1000

// QuantileSequence configures anytime-valid confidence sequences for one
// quantile of a metric such as latency (p50, p95, p99), after Howard and
// Ramdas ("Sequential estimation of quantiles with applications to A/B
// testing and best-arm identification", Bernoulli, 2022), in their
// fixed-quantile form.
//
// The q-quantile Q of an arm lies below the k-th order statistic unless at
// least k observations fall below Q, and each observation does so with
// probability at most q; the beta-binomial mixture martingale bounds that
// count at every sample size at once, and likewise from the other side. The
// result is an interval between two order statistics of the sample so far
// that contains Q at every look with probability at least 1 − Alpha. It
// assumes each arm's observations are independent draws from one
// distribution and nothing else: no normality, no continuity (ties and
// millisecond rounding are fine), exact at every sample size. It is
// conservative: each side spends Alpha/2 and the mixture is two-sided.
type QuantileSequence struct {
	// Q is the quantile level in (0, 1), such as 0.99 for p99. Values
	// outside (0, 1) make every interval unbounded.
	Q float64
	// Alpha is one minus the coverage; zero means DefaultAlpha. Diff spends
	// half of it on each arm.
	Alpha float64
	// Horizon is the sample size per arm where the intervals are tuned to be
	// narrowest; zero means DefaultHorizon. It must be fixed before the data
	// are seen (choosing it from the data voids the guarantee); being off by
	// a factor of a few costs little width.
	Horizon int
}

// Interval returns the confidence sequence's interval for the Q-quantile
// given every observation of the arm so far, in any order. An end is
// infinite while the sample is too small to bound that side, as the upper
// end of a p99 interval is for the first few hundred observations. The
// sample is not modified.
func (c QuantileSequence) Interval(sample []float64) Interval {
	return c.interval(sortedFinite(sample), alphaOr(c.Alpha))
}

// interval is Interval on an ascending sample at level 1 − alpha.
func (c QuantileSequence) interval(sorted []float64, alpha float64) Interval {
	if !(c.Q > 0 && c.Q < 1) || len(sorted) == 0 {
		return unbounded
	}
	t := len(sorted)
	horizon := c.Horizon
	if horizon <= 0 {
		horizon = DefaultHorizon
	}
	side := alpha / 2
	logThr := math.Log(1 / side)
	r := priorStrength(horizon, side)
	iv := unbounded
	// Fewer than k observations below Q means Q ≤ X(k).
	if k := newBetaMix(c.Q, r).threshold(t, logThr); k <= t {
		iv.Hi = sorted[k-1]
	}
	// Fewer than k observations above Q means Q ≥ X(t−k+1).
	if k := newBetaMix(1-c.Q, r).threshold(t, logThr); t-k+1 >= 1 {
		iv.Lo = sorted[t-k]
	}
	return iv
}

// QuantileDiffResult compares one quantile of the candidate's metric with the
// baseline's.
type QuantileDiffResult struct {
	// Valid is false when Q is outside (0, 1) or either arm is empty.
	Valid bool
	// Baseline is the baseline's sample quantile (type 7, as Quantile).
	Baseline float64
	// Candidate is the candidate's sample quantile.
	Candidate float64
	// Diff is Candidate − Baseline.
	Diff float64
	// BaselineCS is the baseline quantile's confidence sequence at level
	// 1 − Alpha/2.
	BaselineCS Interval
	// CandidateCS is the candidate quantile's confidence sequence at level
	// 1 − Alpha/2.
	CandidateCS Interval
	// DiffCS bounds the candidate's quantile minus the baseline's at every
	// look with probability at least 1 − Alpha: [candidate lo − baseline hi,
	// candidate hi − baseline lo]. A rollback rule "DiffCS.Lo > allowed
	// regression" and a promotion rule "DiffCS.Hi ≤ allowed regression" may
	// both be checked at every look.
	DiffCS Interval
}

// Diff returns anytime-valid intervals for the Q-quantile of each arm and for
// their difference, from every observation of each arm so far. Neither
// slice is modified. The difference interval is the two per-arm intervals
// at Alpha/2 each, subtracted, so it is valid whatever the arms' sizes.
func (c QuantileSequence) Diff(baseline, candidate []float64) QuantileDiffResult {
	res := QuantileDiffResult{BaselineCS: unbounded, CandidateCS: unbounded, DiffCS: unbounded}
	sa, sb := sortedFinite(baseline), sortedFinite(candidate)
	if !(c.Q > 0 && c.Q < 1) || len(sa) == 0 || len(sb) == 0 {
		return res
	}
	alpha := alphaOr(c.Alpha)
	res.Valid = true
	res.Baseline, res.Candidate = Quantile(sa, c.Q), Quantile(sb, c.Q)
	res.Diff = res.Candidate - res.Baseline
	res.BaselineCS = c.interval(sa, alpha/2)
	res.CandidateCS = c.interval(sb, alpha/2)
	res.DiffCS = Interval{
		Lo: res.CandidateCS.Lo - res.BaselineCS.Hi,
		Hi: res.CandidateCS.Hi - res.BaselineCS.Lo,
	}
	return res
}

// Quantiles returns the type-7 quantiles of x, in any order, at each level
// in qs, sorting a copy of x once; NaNs in x are dropped. It is for reporting
// several percentiles of one window.
func Quantiles(x []float64, qs ...float64) []float64 {
	s := sortedFinite(x)
	out := make([]float64, len(qs))
	for i, q := range qs {
		out[i] = Quantile(s, q)
	}
	return out
}
