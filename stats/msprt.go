package stats

import (
	"math"
)

// MixtureSPRT is the mixture sequential probability ratio test (mSPRT) of
// Johari, Koomen, Pekelis and Walsh ("Always valid inference: continuous
// monitoring of A/B tests", Operations Research, 2022) for the difference θ
// between the candidate's and the baseline's mean or rate, with a normal
// mixing distribution N(Theta0, Tau2) over the alternatives.
//
// At each look the test computes, from the running estimate Δ̂ of θ and its
// variance V, the mixture likelihood ratio
//
//	Λ = √(V/(V+τ²)) · exp(τ²(Δ̂−θ₀)² / (2V(V+τ²)))
//
// which under the null is a nonnegative martingale in the information 1/V,
// so by Ville's inequality P(Λ ever reaches 1/α) ≤ α. The always-valid
// p-value is the running minimum of 1/Λ: it may be read after every batch,
// for as long as the rollout lasts, and a rule "stop when p ≤ α" keeps the
// false-positive rate at α. Feed the looks through a SequentialState to get
// that running minimum.
//
// The variances are plug-in sample estimates, so validity is asymptotic (as
// in the paper's own implementation): keep a minimum sample per arm, such as
// a few hundred requests or ten events, before acting on a result. The
// martingale argument assumes the two arms grow in a fixed ratio; when a
// rollout changes its traffic split, start a new SequentialState for the new
// stage rather than carrying the old one over.
type MixtureSPRT struct {
	// Tau2 is the variance τ² of the mixing distribution, in the squared
	// units of the difference (for rates, 0.01² is one percentage point).
	// It must be fixed before the data are seen and must be positive: a
	// test with Tau2 ≤ 0 returns invalid results. τ near the smallest
	// difference worth detecting gives good power (Johari et al.); see
	// OptimalTau2 for the value that makes the confidence sequence tightest
	// at a planned sample size.
	Tau2 float64
	// Theta0 is the difference under the null hypothesis. Zero tests
	// equality; a margin δ > 0 with PLess tests non-inferiority "the
	// candidate is worse by less than δ".
	Theta0 float64
	// Tau2Wide, when positive, is the variance of a second normal mixture,
	// tuned for larger differences than Tau2: each likelihood ratio is then
	// the equal-weight average Λ = (Λ₁ + Λ₂)/2 of the two mixtures' (the
	// mixing distribution is the 50/50 blend of N(θ₀, τ₁²) and N(θ₀, τ₂²)).
	// An average of nonnegative martingales with mean one is one, so
	// Ville's inequality, and with it the level, holds as for either
	// alone; each p-value lies between the smaller of the two mixtures'
	// and twice it. A mixture tuned for a small difference gains evidence
	// slowly on a difference far beyond τ while V is still large: at
	// τ²/V = 0.13 its log Λ is about 0.06·z², not z²/2, so a 27-point jump
	// in an error rate tuned on a 0.5% baseline was still at p ≈ 0.24
	// after 37 requests (10 failures); the wide mixture puts that at 0.004
	// and the pair at 0.008 (TestProportions_WideSeesAJumpInAFewRequests).
	// The price is at most a factor of 2 on the narrow mixture's p-value
	// where it alone has the evidence. Zero (or less) means Tau2 alone.
	Tau2Wide float64
}

// SequentialResult is one look of a MixtureSPRT.
type SequentialResult struct {
	// Valid is false when an arm has too little data or the variance of the
	// estimate is zero; the log likelihood ratios are then zero and the
	// p-values 1.
	Valid bool
	// Diff is the estimate Δ̂ of the candidate's minus the baseline's mean
	// or rate.
	Diff float64
	// Variance is the estimated variance V of Diff.
	Variance float64
	// Tau2 and Tau2Wide are the mixing variances the look was made with
	// (Tau2Wide zero for a single mixture), kept so that Interval can
	// invert the test.
	Tau2     float64
	Tau2Wide float64
	// LogLR is log Λ for the two-sided alternative θ ≠ Theta0.
	LogLR float64
	// LogLRGreater is log Λ for the one-sided alternative θ > Theta0, whose
	// mixture is the half-normal on θ > Theta0; it is a supermartingale for
	// every θ ≤ Theta0, so the one-sided null is composite.
	LogLRGreater float64
	// LogLRLess is log Λ for the one-sided alternative θ < Theta0.
	LogLRLess float64
	// PValue is min(1, 1/Λ) for this look alone. It is always valid only as
	// the running minimum over looks, which SequentialState keeps.
	PValue float64
	// PGreater is the one-sided counterpart of PValue for θ > Theta0.
	PGreater float64
	// PLess is the one-sided counterpart of PValue for θ < Theta0.
	PLess float64
}

// Means tests the difference of means from the two arms' running summaries,
// with V = s₁²/n₁ + s₂²/n₂. Each arm needs at least two observations.
func (m MixtureSPRT) Means(baseline, candidate Summary) SequentialResult {
	if baseline.N < 2 || candidate.N < 2 {
		return invalidSequential(m.Tau2)
	}
	v := baseline.Variance/float64(baseline.N) + candidate.Variance/float64(candidate.N)
	return m.look(candidate.Mean-baseline.Mean, v)
}

// Proportions tests the difference of rates from x1 events in n1 baseline
// trials and x2 events in n2 candidate trials. The variance is unpooled,
// each rate's taken at the Agresti–Caffo rate (x+1)/(n+2), which keeps V
// positive when an arm has no events yet without moving Δ̂, and never
// below the variance the pooled (smoothed) rate gives that arm. Without
// that floor a small arm at or near 0 or 100% (a young canary's 36 tool
// requests, every one answered with a call, against a baseline's 87%)
// reports a variance a tenth of the true one and a difference that is
// chance looks certain: over repeated looks at two equal rates the test
// rejected at a nominal 0.001 in 1.9% of sequences at 87% and 95%, 1.7%
// at 3% (TestProportions_CalibratedNearTheBoundary). Where the arms agree the
// floor changes little. Where they differ it raises the variance of the
// arm further from 1/2 than the pooled rate, whatever its size (2/100
// against 10/100: the first arm's by about 2.1 times), so a real
// difference takes somewhat more data to show: the price of not reading
// chance as certainty on a small extreme arm. It is a floor, not the
// pooled variance alone: with rare events in a small arm (a canary's first
// errors at a 0.5% rate) the pooled variance is far below the skewed tail's
// and rejected equal rates in up to 2.3% of sequences at level 0.001
// (TestProportions_RareEventsInASmallArm). Test and Interval share V,
// so they stay each other's dual. The floor is a variance under equal
// rates: for an interval meant to bound the difference where it lies
// (non-inferiority, equivalence), ProportionsInterval takes each arm's
// own.
func (m MixtureSPRT) Proportions(x1, n1, x2, n2 int) SequentialResult {
	if !countsOK(x1, n1) || !countsOK(x2, n2) {
		return invalidSequential(m.Tau2)
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pool := (float64(x1+x2) + 1) / (float64(n1+n2) + 2)
	pv := pool * (1 - pool)
	v1 := math.Max(smoothedRateVar(x1, n1), pv/float64(n1))
	v2 := math.Max(smoothedRateVar(x2, n2), pv/float64(n2))
	return m.look(p2-p1, v1+v2)
}

// ProportionsInterval is Proportions with each arm's own (smoothed)
// variance, without the pooled floor, for the confidence sequence of the
// difference (its Interval): the floor is the variance of equal rates,
// the null of Proportions' test, and would widen the interval of a
// difference that is not zero, so a candidate better than its baseline
// (fewer errors: its own variance the smaller) took longer to show it is
// within a threshold (TestRate_BetterCandidateShowsWithinSoon). Its
// p-values test equality with the unfloored variance: use Proportions'
// for that.
func (m MixtureSPRT) ProportionsInterval(x1, n1, x2, n2 int) SequentialResult {
	if !countsOK(x1, n1) || !countsOK(x2, n2) {
		return invalidSequential(m.Tau2)
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	return m.look(p2-p1, smoothedRateVar(x1, n1)+smoothedRateVar(x2, n2))
}

// smoothedRateVar is the variance of x/n evaluated at (x+1)/(n+2).
func smoothedRateVar(x, n int) float64 {
	p := (float64(x) + 1) / (float64(n) + 2)
	return p * (1 - p) / float64(n)
}

// look computes the mixture likelihood ratios for estimate d with variance v.
func (m MixtureSPRT) look(d, v float64) SequentialResult {
	if !(m.Tau2 > 0) || !(v > 0) || math.IsNaN(d) || math.IsInf(v, 0) {
		return invalidSequential(m.Tau2)
	}
	r := SequentialResult{Valid: true, Diff: d, Variance: v, Tau2: m.Tau2}
	e := d - m.Theta0
	r.LogLR, r.LogLRGreater, r.LogLRLess = normalMixture(e, v, m.Tau2)
	if m.Tau2Wide > 0 {
		r.Tau2Wide = m.Tau2Wide
		two, gt, lt := normalMixture(e, v, m.Tau2Wide)
		r.LogLR = logMeanExp(r.LogLR, two)
		r.LogLRGreater = logMeanExp(r.LogLRGreater, gt)
		r.LogLRLess = logMeanExp(r.LogLRLess, lt)
	}
	r.PValue = pFromLogLR(r.LogLR)
	r.PGreater = pFromLogLR(r.LogLRGreater)
	r.PLess = pFromLogLR(r.LogLRLess)
	return r
}

// normalMixture returns the log likelihood ratios of the N(θ₀, tau2)
// mixture, two-sided and on each side, for an estimate e away from the
// null with variance v.
func normalMixture(e, v, tau2 float64) (two, greater, less float64) {
	// log Λ = −½ log(1 + τ²/V) + τ²e² / (2V(V+τ²)).
	two = -0.5*math.Log1p(tau2/v) + tau2*e*e/(2*v*(v+tau2))
	// The half-normal mixture on one side multiplies Λ by 2Φ(±s) with
	// s = eτ/√(V(V+τ²)), the posterior probability of that side.
	s := e * math.Sqrt(tau2/(v*(v+tau2)))
	return two, two + math.Ln2 + logNormCDF(s), two + math.Ln2 + logNormCDF(-s)
}

// logMeanExp is log((eᵃ + eᵇ)/2), without overflow.
func logMeanExp(a, b float64) float64 {
	hi, lo := max(a, b), min(a, b)
	return hi + math.Log1p(math.Exp(lo-hi)) - math.Ln2
}

// invalidSequential is the no-evidence result.
func invalidSequential(tau2 float64) SequentialResult {
	return SequentialResult{Tau2: tau2, PValue: 1, PGreater: 1, PLess: 1}
}

// pFromLogLR turns a likelihood ratio into Ville's p-value min(1, 1/Λ).
func pFromLogLR(logLR float64) float64 {
	if !(logLR > 0) {
		return 1
	}
	return math.Exp(-logLR)
}

// Interval inverts the two-sided test: it returns the set of differences θ₀
// that the look does not reject at level alpha, an alpha outside (0, 1)
// meaning DefaultAlpha. This is the normal-mixture confidence sequence of
// Howard, Ramdas, McAuliffe and Sekhon ("Time-uniform, nonparametric,
// nonasymptotic confidence sequences", Annals of Statistics, 2021) in the
// form of an asymptotic confidence sequence (Waudby-Smith et al.), since V
// is estimated:
//
//	Δ̂ ± √( V(V+τ²)/τ² · (2 log(1/α) + log(1 + τ²/V)) )
//
// It covers the true difference at every look simultaneously with
// probability at least 1 − alpha; an IntervalState keeps the running
// intersection. An invalid look gives the unbounded interval.
//
// For a pair of mixtures (Tau2Wide) the half-width h solves
// (Λ₁(h) + Λ₂(h))/2 = 1/α, found by bisection between the narrower of the
// two single intervals at α (below it both ratios are under 1/α) and the
// narrower at α/2 (there one ratio alone is 2/α).
func (r SequentialResult) Interval(alpha float64) Interval {
	if !r.Valid || !(r.Tau2 > 0) {
		return unbounded
	}
	a := alphaOr(alpha)
	v, tau2 := r.Variance, r.Tau2
	half := mixtureHalfWidth(v, tau2, a)
	if w := r.Tau2Wide; w > 0 && w != tau2 {
		lo := math.Min(half, mixtureHalfWidth(v, w, a))
		hi := math.Min(mixtureHalfWidth(v, tau2, a/2), mixtureHalfWidth(v, w, a/2))
		// log Λᵢ(h) = cᵢ + kᵢh², as in normalMixture.
		target := math.Log(1 / a)
		c1, k1 := -0.5*math.Log1p(tau2/v), tau2/(2*v*(v+tau2))
		c2, k2 := -0.5*math.Log1p(w/v), w/(2*v*(v+w))
		for hi-lo > 1e-12*hi {
			mid := lo + (hi-lo)/2
			if logMeanExp(c1+k1*mid*mid, c2+k2*mid*mid) < target {
				lo = mid
			} else {
				hi = mid
			}
		}
		half = lo + (hi-lo)/2
	}
	return Interval{Lo: r.Diff - half, Hi: r.Diff + half}
}

// mixtureHalfWidth is the half-width of the single N(θ₀, tau2) mixture's
// confidence sequence at level alpha for an estimate with variance v.
func mixtureHalfWidth(v, tau2, alpha float64) float64 {
	return math.Sqrt(v * (v + tau2) / tau2 * (2*math.Log(1/alpha) + math.Log1p(tau2/v)))
}

// OptimalTau2 returns the mixing variance τ² that makes the two-sided
// confidence sequence at level 1 − alpha narrowest when the variance of the
// estimate reaches horizonVariance, the V expected at the planned end of a
// stage (for example σ²(1/n₁ + 1/n₂) at the planned sizes). The optimum is
// τ² = r·V with r the root of r = 2 log(1/α) + log(1 + r), about 8.2 at
// α = 0.05; the width is flat near it, so a rough plan is enough. It returns
// zero for a non-positive horizonVariance.
func OptimalTau2(horizonVariance, alpha float64) float64 {
	if !(horizonVariance > 0) {
		return 0
	}
	return optimalRatio(alphaOr(alpha)) * horizonVariance
}

// optimalRatio solves r = 2 log(1/α) + log(1 + r) by Newton's method on
// f(r) = r − c − log(1+r), which is increasing and convex for r > 0, so the
// iteration converges from the positive start, in a few steps.
func optimalRatio(alpha float64) float64 {
	c := 2 * math.Log(1/alpha)
	r := c + math.Log1p(c+1)
	for range 50 {
		step := (r - c - math.Log1p(r)) * (1 + r) / r
		r -= step
		if math.Abs(step) < 1e-12*r {
			break
		}
	}
	return r
}

// SequentialState is what a controller keeps between looks at a
// MixtureSPRT: the largest log likelihood ratios seen so far, whose
// reciprocals are the always-valid p-values. Its zero value is the state
// before the first look (every p-value 1). It is a plain value that can be
// stored with the rollout and restored after a restart.
type SequentialState struct {
	// Looks counts the valid looks observed.
	Looks int
	// MaxLogLR is the largest two-sided log likelihood ratio so far.
	MaxLogLR float64
	// MaxLogLRGreater is the largest one-sided log ratio for θ > Theta0.
	MaxLogLRGreater float64
	// MaxLogLRLess is the largest one-sided log ratio for θ < Theta0.
	MaxLogLRLess float64
}

// Observe folds one look into the state and returns the look with its
// p-values replaced by the always-valid running ones, which never increase.
// Invalid looks leave the state unchanged.
func (s *SequentialState) Observe(r SequentialResult) SequentialResult {
	if r.Valid {
		s.Looks++
		s.MaxLogLR = math.Max(s.MaxLogLR, r.LogLR)
		s.MaxLogLRGreater = math.Max(s.MaxLogLRGreater, r.LogLRGreater)
		s.MaxLogLRLess = math.Max(s.MaxLogLRLess, r.LogLRLess)
	}
	r.PValue, r.PGreater, r.PLess = s.PValue(), s.PGreater(), s.PLess()
	return r
}

// PValue returns the always-valid two-sided p-value so far.
func (s SequentialState) PValue() float64 { return pFromLogLR(s.MaxLogLR) }

// PGreater returns the always-valid one-sided p-value for θ > Theta0 so far.
func (s SequentialState) PGreater() float64 { return pFromLogLR(s.MaxLogLRGreater) }

// PLess returns the always-valid one-sided p-value for θ < Theta0 so far.
func (s SequentialState) PLess() float64 { return pFromLogLR(s.MaxLogLRLess) }

// IntervalState keeps the running intersection of a confidence sequence's
// intervals, which is itself a confidence sequence and only ever shrinks.
// Its zero value is the state before the first look.
type IntervalState struct {
	// Looks counts the bounded intervals observed.
	Looks int
	// Current is the intersection so far; it is meaningful once Looks > 0.
	Current Interval
}

// Observe intersects iv into the state and returns the intersection. An
// empty result (Lo > Hi) happens with probability at most alpha when the
// difference is constant; more often it means the difference drifted during
// the stage, which is itself a reason to stop and look.
func (s *IntervalState) Observe(iv Interval) Interval {
	if math.IsInf(iv.Lo, -1) && math.IsInf(iv.Hi, 1) {
		if s.Looks == 0 {
			return unbounded
		}
		return s.Current
	}
	if s.Looks == 0 {
		s.Current = iv
	} else {
		s.Current = Interval{Lo: math.Max(s.Current.Lo, iv.Lo), Hi: math.Min(s.Current.Hi, iv.Hi)}
	}
	s.Looks++
	return s.Current
}
