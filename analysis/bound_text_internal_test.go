package analysis

import (
	"math"
	"strings"
	"testing"
)

// TestBound_WithoutAnEnd: a metric the data do not bound yet (the p99 of a
// small arm: its interval's upper end is infinite) was named in a pending
// verdict's reason as "latency p99 (up to unbounded, threshold +20%)",
// which read as nonsense on the dashboard. It now says there is no bound
// yet; a finite end is written as before.
func TestBound_WithoutAnEnd(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		name   string
		def    *metricDef
		lo, hi float64
		want   string
	}{
		{"QuantileNoUpper", &mP99, -0.1, inf, "latency p99 (no upper bound yet, threshold +20%)"},
		{"QuantileFinite", &mP99, -0.1, 0.35, "latency p99 (up to +35%, threshold +20%)"},
		{"MeanNoEnd", &mTokens, -inf, 0.1, "output tokens (not yet bounded, threshold ±20%)"},
		{"MeanFinite", &mTokens, -0.1, 0.3, "output tokens (between -10% and +30%, threshold ±20%)"},
		{"QualityNoLower", &mQuality, -inf, 0.02, "quality (no lower bound yet, threshold -0.05)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := row{def: c.def, tested: true}
			r.mv.Lower, r.mv.Upper = c.lo, c.hi
			r.mv.Threshold = 0.2
			if c.def == &mQuality {
				r.mv.Threshold = -0.05
			}
			got := bound(&r)
			if got != c.want || strings.Contains(got, "unbounded") {
				t.Errorf("bound = %q, want %q", got, c.want)
			}
		})
	}
}
