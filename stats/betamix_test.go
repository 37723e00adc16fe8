package stats

import (
	"math"
	"testing"
)

// thresholdBisect is betaMix.threshold as a plain bisection of [q(t−1), t],
// the reference the guided search must agree with.
func thresholdBisect(m betaMix, t int, logThreshold float64) int {
	ft := float64(t)
	lo := max(int(math.Ceil(m.q*(ft-1))), 0)
	if lo > t || m.log(ft, ft) < logThreshold {
		return t + 1
	}
	hi := t
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

// TestBetaMix_Threshold checks the guided search against bisection over the
// quantiles, levels, horizons and sample sizes the analysis uses and more.
func TestBetaMix_Threshold(t *testing.T) {
	ts := []int{0, 1, 2, 3, 5, 8, 13, 29, 30, 31, 50, 99, 100, 101, 300, 999, 1000, 4321, 10000, 54321, 200000}
	for n := 1; n < 3000; n += 7 {
		ts = append(ts, n)
	}
	checked := 0
	for _, q := range []float64{0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999} {
		for _, horizon := range []int{1, 30, 100, 200, 1000, 2000, 5000, 100000} {
			for _, alpha := range []float64{0.0025, 0.01, 0.02, 0.05, 0.08, 0.1, 0.5} {
				r := priorStrength(horizon, alpha)
				m := newBetaMix(q, r)
				thr := math.Log(1 / alpha)
				for _, n := range ts {
					if got, want := m.threshold(n, thr), thresholdBisect(m, n, thr); got != want {
						t.Fatalf("q %v horizon %d alpha %v t %d: threshold %d, bisection %d", q, horizon, alpha, n, got, want)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d thresholds agree", checked)
}
