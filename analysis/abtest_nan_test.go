package analysis

import (
	"math"
	"testing"

	"github.com/sluicehq/sluice"
)

// An arm with one real quality score (the others NaN: scores that could not
// be read) cannot be compared by Welch's test. ABReport counted the NaNs
// towards the two values it needs, and then took the invalid test for "both
// arms constant": p = 0, and a winner named from one score.
func TestABReport_OneScoreAfterNaNsIsNotCompared(t *testing.T) {
	nan := math.NaN()
	cand := make([]float64, 50)
	for i := range cand {
		cand[i] = 0.3 + 0.4*float64(i%5)/4 // 0.3 … 0.7, mean 0.5
	}
	in := Input{
		Baseline:  Arm{Requests: 50, Quality: []float64{0.9, nan, nan}},
		Candidate: Arm{Requests: 50, Quality: cand},
	}
	rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
	for _, m := range rep.Metrics {
		if m.Metric == "quality" {
			t.Errorf("quality compared from one baseline score: p = %v, winner %q", m.PValue, m.Winner)
		}
	}
	if rep.Winner != "no difference" {
		t.Errorf("winner %q (%s), want no difference", rep.Winner, rep.Summary)
	}
}
