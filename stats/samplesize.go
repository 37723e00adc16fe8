package stats

import "math"

// SampleSizeTwoProportions returns the number of trials per arm a two-sided
// test at level alpha needs to detect a change of the rate from baseline to
// baseline + mde (mde is absolute and signed: 0.85 → 0.90 is mde 0.05) with
// the given power. It is the classic normal-approximation formula without
// continuity correction (Fleiss, Statistical Methods for Rates and
// Proportions, ch. 4; the equation R's power.prop.test solves):
//
//	n = ( z₁₋α/₂ √(2p̄(1−p̄)) + z₁₋β √(p₁(1−p₁) + p₂(1−p₂)) )² / mde²,  p̄ = (p₁+p₂)/2
//
// rounded up. For 0.85 → 0.90 at α = 0.05 and 80% power it gives 686; the
// continuity-corrected variant (Fleiss–Tytun–Ury) would give 725, and the
// unpooled (z₁₋α/₂ + z₁₋β)²(p₁q₁+p₂q₂)/mde² gives 683. It returns 0 when
// the rates are not both inside (0, 1), mde is zero, or alpha or power is
// outside (0, 1).
func SampleSizeTwoProportions(baseline, mde, alpha, power float64) int {
	p1, p2 := baseline, baseline+mde
	if !(p1 > 0 && p1 < 1 && p2 > 0 && p2 < 1) || mde == 0 || !probOK(alpha) || !probOK(power) {
		return 0
	}
	za, zb := normQuantile(1-alpha/2), normQuantile(power)
	pbar := (p1 + p2) / 2
	root := za*math.Sqrt(2*pbar*(1-pbar)) + zb*math.Sqrt(p1*(1-p1)+p2*(1-p2))
	return ceilCount(root * root / (mde * mde))
}

// SampleSizeTwoMeans returns the number of observations per arm a two-sided
// test at level alpha needs to detect a difference mde between two means
// whose common standard deviation is sd, with the given power:
//
//	n = 2 (z₁₋α/₂ + z₁₋β)² sd²/mde² + z₁₋α/₂²/4
//
// rounded up. The last term is Guenther's (1981) correction for using the t
// rather than the normal distribution; with it the answer agrees with R's
// exact power.t.test to within one (64 for mde/sd = 0.5, α = 0.05, 80%
// power). It returns 0 when sd or mde is not a positive or nonzero finite
// number, or alpha or power is outside (0, 1).
func SampleSizeTwoMeans(sd, mde, alpha, power float64) int {
	if !(sd > 0) || math.IsInf(sd, 0) || mde == 0 || math.IsNaN(mde) || math.IsInf(mde, 0) ||
		!probOK(alpha) || !probOK(power) {
		return 0
	}
	za, zb := normQuantile(1-alpha/2), normQuantile(power)
	return ceilCount(2*(za+zb)*(za+zb)*sd*sd/(mde*mde) + za*za/4)
}

// probOK reports whether p is a usable probability for a level or a power.
func probOK(p float64) bool {
	return p > 0 && p < 1
}

// ceilCount rounds a sample size up, ignoring rounding noise of a few ulps so
// that an exact 100 does not become 101.
func ceilCount(n float64) int {
	if math.IsInf(n, 0) || math.IsNaN(n) || n > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(math.Ceil(n - 1e-9))
}
