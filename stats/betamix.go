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
//
// log M increases in k on that side, so the answer is where it crosses the
// threshold. The search starts from the crossing of the normal
// approximation, refined by one secant step, and gallops out from there:
// five to seven evaluations of log M where a bisection of [q(t−1), t]
// takes ten to seventeen for t from 1,000 to 50,000, for the same k. The quantile intervals
// compute two thresholds per interval, several intervals per analysis.
func (m betaMix) threshold(t int, logThreshold float64) int {
	ft := float64(t)
	lo := max(int(math.Ceil(m.q*(ft-1))), 0)
	if lo > t || m.log(ft, ft) < logThreshold {
		return t + 1
	}
	hi := t // invariant: M(hi) reaches the threshold; below lo it cannot
	reaches := func(k int) bool { return m.log(float64(k), ft) >= logThreshold }
	g := m.guess(t, lo, logThreshold)
	if reaches(g) {
		hi = g
		for step := 1; ; step *= 2 {
			c := hi - step
			if c < lo {
				break
			}
			if !reaches(c) {
				lo = c + 1
				break
			}
			hi = c
		}
	} else {
		lo = g + 1
		for step := 1; ; step *= 2 {
			c := g + step
			if c >= hi {
				break
			}
			if reaches(c) {
				hi = c
				break
			}
			lo = c + 1
		}
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if reaches(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// guess returns an integer in [lo, t] near the smallest k with log M(k, t)
// ≥ logThreshold: the crossing of the normal mixture with the prior's
// variance, refined by a secant step on log M itself. Only the search's
// cost depends on it, never its answer.
func (m betaMix) guess(t, lo int, logThreshold float64) int {
	ft := float64(t)
	clamp := func(x float64) int {
		if !(x > float64(lo)) { // NaN too
			return lo
		}
		return min(int(x), t)
	}
	// Normal mixture: log M ≈ −½ log(1 + t/(r+1)) + s²/(2σ²(r+1+t)) with
	// s = k − qt, σ² = q(1−q) and r+1 = a+b+1.
	r1 := m.a + m.b + 1
	s := math.Sqrt(2 * m.q * (1 - m.q) * (r1 + ft) * (logThreshold + 0.5*math.Log1p(ft/r1)))
	k0 := clamp(math.Ceil(m.q*ft + s))
	k1 := min(k0+1, t)
	if k1 == k0 {
		return k0
	}
	f0, f1 := m.log(float64(k0), ft)-logThreshold, m.log(float64(k1), ft)-logThreshold
	if !(f1 > f0) {
		return k0
	}
	return clamp(math.Ceil(float64(k0) - f0/(f1-f0)))
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
