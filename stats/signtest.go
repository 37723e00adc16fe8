package stats

import "math"

// SignTest is an anytime-valid test of whether the candidate's values tend
// to exceed the baseline's, P(candidate > baseline) ≠ ½, for metrics with no
// useful distributional form such as latency. It is the sequential
// counterpart of MannWhitneyU. It is in the spirit of the anytime-valid
// canary tests of Lindon, Sanden and Shirikian ("Rapid regression detection
// in software deployments through sequential testing", KDD 2022), which
// compare whole distributions, but much simpler.
//
// Each new candidate observation is paired with a new baseline observation;
// a pair is a win when the candidate's value is larger, a loss when smaller,
// and a tie otherwise. If the arms are identically distributed, every untied
// pair is a win with probability exactly ½ however the values are
// distributed, so the wins follow a fair coin and the beta-binomial mixture
// martingale (see betaMix) gives p-values that may be read after every
// pair, for ever. Ties are dropped, as in the classic sign test.
//
// Pairing must not depend on the values: pass the observations of each arm
// in arrival order, and let the longer batch's surplus be dropped. This
// spends the larger arm's surplus, so the test uses about as many pairs as
// the canary has requests, and it is less powerful than MannWhitneyU at a
// fixed size: that is the price of peeking safely.
//
// The zero value is ready to use with DefaultHorizon. SignTest is a plain
// value that can be stored with the rollout; it is not safe for concurrent
// use.
type SignTest struct {
	// Horizon is the number of untied pairs at which the test is tuned to
	// detect a shift soonest; zero means DefaultHorizon. It must not change
	// once pairs have been added.
	Horizon int
	// Wins counts pairs where the candidate's value was larger.
	Wins int
	// Losses counts pairs where the candidate's value was smaller.
	Losses int
	// Ties counts pairs with equal values; they carry no evidence.
	Ties int
	// MaxLogLR is the largest two-sided log mixture ratio so far.
	MaxLogLR float64
	// MaxLogLRGreater is the largest log ratio for "candidate larger".
	MaxLogLRGreater float64
	// MaxLogLRLess is the largest log ratio for "candidate smaller".
	MaxLogLRLess float64
}

// SignResult is the state of a SignTest after the pairs so far.
type SignResult struct {
	// Pairs counts all pairs, ties included.
	Pairs int
	// Wins, Losses and Ties count the pairs by outcome.
	Wins, Losses, Ties int
	// Estimate is (Wins + Ties/2)/Pairs, an estimate of P(candidate >
	// baseline) + ½P(tie); it is ½ before the first pair.
	Estimate float64
	// PValue is the always-valid two-sided p-value for P(candidate >
	// baseline) = ½ among untied pairs.
	PValue float64
	// PGreater is the always-valid p-value for the alternative "candidate
	// values tend to be larger", such as a slower candidate.
	PGreater float64
	// PLess is the always-valid p-value for the alternative "candidate
	// values tend to be smaller".
	PLess float64
}

// Add pairs baseline[i] with candidate[i] for every i below the shorter
// length, in order, and updates the test after each pair. The rest of the
// longer slice is ignored; pass only observations not given before. NaN
// values make a pair a tie.
func (s *SignTest) Add(baseline, candidate []float64) {
	mix := newBetaMix(0.5, s.prior())
	for i := range min(len(baseline), len(candidate)) {
		a, b := baseline[i], candidate[i]
		switch {
		case b > a:
			s.Wins++
		case b < a:
			s.Losses++
		default:
			s.Ties++
			continue
		}
		// With q = ½ and a symmetric prior, M(wins) = M(losses): one
		// evaluation serves the two-sided test and whichever side leads.
		n, w := float64(s.Wins+s.Losses), float64(s.Wins)
		logM := mix.log(w, n)
		s.MaxLogLR = math.Max(s.MaxLogLR, logM)
		if w >= 0.5*(n-1) {
			s.MaxLogLRGreater = math.Max(s.MaxLogLRGreater, logM)
		}
		if n-w >= 0.5*(n-1) {
			s.MaxLogLRLess = math.Max(s.MaxLogLRLess, logM)
		}
	}
}

// Result returns the counts, the estimate and the always-valid p-values so
// far; the p-values never increase as pairs are added.
func (s *SignTest) Result() SignResult {
	res := SignResult{
		Pairs:    s.Wins + s.Losses + s.Ties,
		Wins:     s.Wins,
		Losses:   s.Losses,
		Ties:     s.Ties,
		Estimate: 0.5,
		PValue:   pFromLogLR(s.MaxLogLR),
		PGreater: pFromLogLR(s.MaxLogLRGreater),
		PLess:    pFromLogLR(s.MaxLogLRLess),
	}
	if res.Pairs > 0 {
		res.Estimate = (float64(s.Wins) + float64(s.Ties)/2) / float64(res.Pairs)
	}
	return res
}

// prior returns the beta prior's concentration for the configured horizon,
// tuned for a 5% test.
func (s *SignTest) prior() float64 {
	h := s.Horizon
	if h <= 0 {
		h = DefaultHorizon
	}
	return priorStrength(h, DefaultAlpha)
}
