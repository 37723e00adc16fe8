package stats

import (
	"math"
)

// The nonparametric sequential methods (QuantileSequence, SignTest) reduce
// their question to a stream of Bernoulli trials with success probability q
// under the null, and bound the number of successes k in t trials by the
// beta-binomial mixture martingale
//
//	M(k, t) = B(a+k, b+t−k) / (B(a, b) · q^k (1−q)^(t−k)),  a = q·r, b = (1−q)·r,
//
// the Bayes factor of a Beta(a, b) prior on the success probability against
// the point null q. Under the null M is a nonnegative martingale with
// M(0, 0) = 1, so P(M ever reaches 1/α) ≤ α (Ville's inequality; Robbins
// 1970; Howard et al. 2021). It needs nothing but log-gamma, so it is
// exact and cheap at any t.
//
// log M is convex in k with its minimum near k = q(t−1): for k above that it
// increases, and a success probability below q only makes large k rarer. So
// the rule "k ≥ the smallest k above the minimum where M ≥ 1/α" has level α
// for the one-sided null "success probability ≤ q" too (couple the trials
// with Bernoulli(q) trials that succeed whenever they do).

// betaMix is the mixture for null success probability q and a prior of
// concentration r, with the prior's normalizing constant computed once.
type betaMix struct {
	q, a, b  float64
	logPrior float64 // log B(a, b)
	logQ     float64 // log q
	logNotQ  float64 // log(1 − q)
}

// newBetaMix returns the mixture with prior Beta(q·r, (1−q)·r).
func newBetaMix(q, r float64) betaMix {
	a, b := q*r, (1-q)*r
	return betaMix{q: q, a: a, b: b, logPrior: lbeta(a, b), logQ: math.Log(q), logNotQ: math.Log1p(-q)}
}

// log returns log M(k, t).
func (m betaMix) log(k, t float64) float64 {
	return lbeta(m.a+k, m.b+t-k) - m.logPrior - k*m.logQ - (t-k)*m.logNotQ
}

// threshold returns the smallest integer k on the increasing side of
// M(·, t) with log M(k, t) ≥ logThreshold, or t+1 when even k = t falls
// short. With probability at least 1 − exp(−logThreshold) the number of
// successes stays below it at every t at once.
func (m betaMix) threshold(t int, logThreshold float64) int {
	ft := float64(t)
	lo := max(int(math.Ceil(m.q*(ft-1))), 0)
	if lo > t || m.log(ft, ft) < logThreshold {
		return t + 1
	}
	hi := t // invariant: M(hi) reaches the threshold
	for lo < hi {
		mid := lo + (hi-lo)/2
		if m.log(float64(mid), ft) >= logThreshold {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// priorStrength returns the concentration r of the beta prior that makes the
// mixture boundary at threshold 1/α tightest after horizon trials, the
// analogue of OptimalTau2: the prior variance q(1−q)/(r+1) is set to the
// optimal ratio times the variance q(1−q)/horizon of the observed rate.
func priorStrength(horizon int, alpha float64) float64 {
	ratio := defaultRatio
	if alpha != DefaultAlpha {
		ratio = optimalRatio(alpha)
	}
	return math.Max(1, float64(horizon)/ratio-1)
}

// defaultRatio is optimalRatio(DefaultAlpha), kept because SignTest.Add
// needs it for every batch.
var defaultRatio = optimalRatio(DefaultAlpha)

// lbeta is log B(a, b) for positive a and b.
func lbeta(a, b float64) float64 {
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	return la + lb - lab
}
