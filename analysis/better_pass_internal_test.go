package analysis

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// TestRate_BetterCandidateShowsWithinSoon: a candidate with fewer errors
// than its baseline (1 in 500 against 0.76%) shows its error rate within
// the threshold (+0.5 points) as it did before the pooled floor (upper
// end +0.23 points; with the floor +0.58, not within): the floor is the variance of equal rates, the test's null,
// and applied to the interval too it widened the interval of the better
// candidate (its own variance the smaller), so the demo's good candidate
// was once not promoted within its 90 s (CI, 23:12 UTC). The interval
// takes each arm's own variance; the test of "different at all" keeps the
// floor (TestProportions_CalibratedNearTheBoundary).
func TestRate_BetterCandidateShowsWithinSoon(t *testing.T) {
	tt := newTester(WithDefaults(sluice.AnalysisSpec{}))
	r := tt.rate(&mErrors, "", 456, 60000, 1, 500)
	if !r.tested {
		t.Fatal("not tested")
	}
	if !r.within {
		t.Errorf("error rate 1 in 500 against 0.76%%: interval [%.5f, %.5f] not within +%.4f", r.mv.Lower, r.mv.Upper, r.mv.Threshold)
	}
}
