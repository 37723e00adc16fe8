package stats

import (
	"math"
)

// Summary holds the sufficient statistics of one arm's sample of a metric:
// its size, mean and unbiased variance. The observation windows keep running
// sums rather than raw values for most metrics, so the tests on means accept
// a Summary instead of a slice.
type Summary struct {
	// N is the number of observations; zero means no data.
	N int
	// Mean is the sample mean; it is zero when N is zero.
	Mean float64
	// Variance is the unbiased sample variance (divisor N−1); it is zero when
	// N is below two.
	Variance float64
}

// Summarize returns the size, mean and unbiased variance of x. NaN values are
// skipped, so one bad observation does not poison a whole window.
func Summarize(x []float64) Summary {
	// Welford's update keeps the variance accurate when the mean is large
	// compared with the spread, as with latencies in nanoseconds.
	var s Summary
	var m2 float64
	for _, v := range x {
		if math.IsNaN(v) {
			continue
		}
		s.N++
		d := v - s.Mean
		s.Mean += d / float64(s.N)
		m2 += d * (v - s.Mean)
	}
	if s.N > 1 {
		s.Variance = m2 / float64(s.N-1)
	}
	return s
}

// SummaryFromMoments builds a Summary from a count, a sum and a sum of
// squares, the form in which running windows usually keep a metric. A
// negative variance from rounding is clamped to zero.
func SummaryFromMoments(n int, sum, sumSq float64) Summary {
	if n <= 0 {
		return Summary{}
	}
	s := Summary{N: n, Mean: sum / float64(n)}
	if n > 1 {
		s.Variance = math.Max(0, (sumSq-sum*sum/float64(n))/float64(n-1))
	}
	return s
}

// ProportionSummary returns the Summary of n Bernoulli observations of which
// x were ones, so that a rate can be fed to the tests on means.
func ProportionSummary(x, n int) Summary {
	if n <= 0 || x < 0 || x > n {
		return Summary{}
	}
	p := float64(x) / float64(n)
	s := Summary{N: n, Mean: p}
	if n > 1 {
		s.Variance = p * (1 - p) * float64(n) / float64(n-1)
	}
	return s
}

// StdDev returns the sample standard deviation of the summary.
func (s Summary) StdDev() float64 {
	return math.Sqrt(s.Variance)
}

// Mean returns the arithmetic mean of x, or NaN when x is empty. Unlike
// Summarize it does not skip NaNs: one makes the result NaN.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	var sum float64
	for _, v := range x {
		sum += v
	}
	return sum / float64(len(x))
}

// Variance returns the unbiased sample variance of x (divisor n−1), or NaN
// when x has fewer than two values.
func Variance(x []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	// Two passes: subtracting the mean first avoids the cancellation of the
	// sum-of-squares formula.
	m := Mean(x)
	var ss, comp float64
	for _, v := range x {
		d := v - m
		ss += d * d
		comp += d
	}
	n := float64(len(x))
	return (ss - comp*comp/n) / (n - 1)
}

// StdDev returns the sample standard deviation of x, or NaN when x has fewer
// than two values.
func StdDev(x []float64) float64 {
	return math.Sqrt(Variance(x))
}

// Quantile returns the q-quantile of sorted, which must be in ascending
// order, by linear interpolation between order statistics: Hyndman and Fan's
// type 7, the default of R's quantile and of numpy. q is clamped to [0, 1].
// It returns NaN when sorted is empty.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	if math.IsNaN(q) || q <= 0 {
		return sorted[0]
	}
	if q >= 1 {
		return sorted[n-1]
	}
	h := float64(n-1) * q
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := h - float64(lo)
	if frac == 0 || sorted[lo+1] == sorted[lo] {
		// Exact, and no 0·Inf or Inf − Inf when the sample holds infinities.
		return sorted[lo]
	}
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// Interval is a closed interval [Lo, Hi] of a parameter, such as a
// confidence interval for a difference. Lo may be -Inf and Hi +Inf when the
// data do not yet bound the parameter on that side.
type Interval struct {
	// Lo is the lower end.
	Lo float64
	// Hi is the upper end.
	Hi float64
}

// Contains reports whether x lies in the interval, ends included.
func (iv Interval) Contains(x float64) bool {
	return iv.Lo <= x && x <= iv.Hi
}

// Width returns Hi − Lo, which is +Inf for an unbounded interval.
func (iv Interval) Width() float64 {
	return iv.Hi - iv.Lo
}

// unbounded is the interval a method returns when it has no data to bound
// the parameter with.
var unbounded = Interval{Lo: math.Inf(-1), Hi: math.Inf(1)}
