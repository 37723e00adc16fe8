package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// DefaultAlpha is the significance level used when a function is given an
// alpha outside (0, 1): a 95% interval, a 5% test.
const DefaultAlpha = 0.05

// alphaOr returns alpha when it is a usable level and DefaultAlpha otherwise.
func alphaOr(alpha float64) float64 {
	if alpha > 0 && alpha < 1 {
		return alpha
	}
	return DefaultAlpha
}

// normCDF is Φ(x). Erfc keeps full relative precision in the lower tail,
// where 1 − Φ(−x) would round to zero.
func normCDF(x float64) float64 {
	return 0.5 * math.Erfc(-x/math.Sqrt2)
}

// normSF is 1 − Φ(x), accurate in the upper tail.
func normSF(x float64) float64 {
	return 0.5 * math.Erfc(x/math.Sqrt2)
}

// logNormCDF is log Φ(x); it is -Inf once Φ(x) underflows, which callers
// read as "no evidence".
func logNormCDF(x float64) float64 {
	return math.Log(normCDF(x))
}

// normQuantile is Φ⁻¹(p).
func normQuantile(p float64) float64 {
	return distuv.UnitNormal.Quantile(p)
}

// zPValues returns the two-sided, upper and lower one-sided p-values of a
// standard normal statistic z.
func zPValues(z float64) (two, greater, less float64) {
	greater = normSF(z)
	less = normCDF(z)
	two = math.Min(1, 2*math.Min(greater, less))
	return two, greater, less
}
