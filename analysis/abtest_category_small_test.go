package analysis

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestABReport_SmallCategoryNamesNoWinner: a category the arms served a
// handful of times has no say. Two judge scores each (grades are tenths,
// so equal ones are common), 0.8 and 0.8 against 0.4 and 0.4, made a
// "both constant" Welch row with p = 0: the report called the baseline
// the winner of an A/B test whose 4000 requests showed no difference,
// "worse on quality in category billing". Analyze leaves rows under
// minTestSample a side out of its family; so must the report.
func TestABReport_SmallCategoryNamesNoWinner(t *testing.T) {
	in := MustInput(t, 13, 2000, 2000, map[string]catSpec{"general": {weight: 1, baseline: stable, candidate: stable}})
	if rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05}); rep.Winner != "no difference" {
		t.Fatalf("without the small category: winner %q (%s), want no difference", rep.Winner, rep.Summary)
	}
	in.Categories["billing"] = Pair{
		Baseline:  Arm{Requests: 2, Quality: []float64{0.8, 0.8}},
		Candidate: Arm{Requests: 2, Quality: []float64{0.4, 0.4}},
	}
	rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
	if rep.Winner != "no difference" || strings.Contains(rep.Summary, "billing") {
		t.Errorf("winner %q, summary %q: want no difference, billing's 2 requests a side deciding nothing", rep.Winner, rep.Summary)
	}
	for _, m := range rep.Categories {
		if m.Category == "billing" {
			t.Errorf("a row for billing, served twice by each arm: %+v", m)
		}
	}
}
