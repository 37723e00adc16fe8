package stats

import (
	"math"
	"testing"
)

// MustClose fails tb when got differs from want by more than tol, absolute
// or relative to want, whichever is larger. Infinities must match exactly.
func MustClose(tb testing.TB, name string, got, want, tol float64) {
	tb.Helper()
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		if got != want {
			tb.Errorf("%s = %v, want %v", name, got, want)
		}
		return
	}
	if math.IsNaN(got) || math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		tb.Errorf("%s = %.15g, want %.15g (tol %g)", name, got, want, tol)
	}
}

// sleepGroup1 and sleepGroup2 are R's `sleep` data set (Student 1908): the
// extra hours of sleep with two drugs, ten patients each. The reference
// outputs of t.test and wilcox.test on them are printed in countless R
// tutorials and were re-checked with R 4.2.2.
var (
	sleepGroup1 = []float64{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0}
	sleepGroup2 = []float64{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4}
)
