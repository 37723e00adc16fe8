package analysis

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestABReport_CategoryRegression: the candidate refuses 30% of billing
// questions, a twentieth of the traffic, and is as good as the baseline
// elsewhere. On all traffic the refusal rate rises by a few points only;
// the report must still find billing's regression, show it in a row of its
// own, and not call the test a draw: before, the report had no categories
// and said "no significant difference", so an engineer would ship a
// candidate that fails a third of its billing questions.
func TestABReport_CategoryRegression(t *testing.T) {
	refuses := with(func(b *fakellm.Behavior) { b.RefusalRate = 0.3 })
	in := MustInput(t, 11, 2000, 2000, map[string]catSpec{
		"general": {weight: 0.95, baseline: stable, candidate: stable},
		"billing": {weight: 0.05, baseline: stable, candidate: refuses},
	})
	rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
	if rep.Winner != "baseline" {
		t.Errorf("winner %q, want baseline (the candidate is worse on billing and better nowhere): %s", rep.Winner, rep.Summary)
	}
	if !strings.Contains(rep.Summary, "refusal_rate in category billing") {
		t.Errorf("summary %q does not name billing's refusal rate", rep.Summary)
	}
	var found bool
	for _, m := range rep.Categories {
		if m.Category == "" {
			t.Errorf("a category row without its category: %+v", m)
		}
		if m.Category == "general" && m.Winner != "no difference" {
			t.Errorf("general: %+v, want no difference", m)
		}
		if m.Category == "billing" && m.Metric == "refusal_rate" {
			found = true
			if m.Winner != "baseline" || m.AdjustedP > 0.05 || m.Lower <= 0 {
				t.Errorf("billing refusal rate: %+v, want the baseline's win with an interval above 0", m)
			}
		}
	}
	if !found {
		t.Fatalf("no refusal_rate row for billing among %d category rows", len(rep.Categories))
	}
	for _, m := range rep.Metrics {
		if m.Category != "" {
			t.Errorf("an overall row with a category: %+v", m)
		}
	}
}

// TestABReport_CategoryRegressionBesideAWin: better on latency overall but
// worse on one category's refusals is mixed, not a win for the candidate
// (before: "the candidate wins on latency_mean").
func TestABReport_CategoryRegressionBesideAWin(t *testing.T) {
	fast := with(func(b *fakellm.Behavior) { b.Latency = fakellm.Distribution{MedianMS: 400, P99MS: 1500} })
	fastRefusing := with(func(b *fakellm.Behavior) {
		b.Latency = fakellm.Distribution{MedianMS: 400, P99MS: 1500}
		b.RefusalRate = 0.3
	})
	in := MustInput(t, 12, 2000, 2000, map[string]catSpec{
		"general": {weight: 0.95, baseline: stable, candidate: fast},
		"billing": {weight: 0.05, baseline: stable, candidate: fastRefusing},
	})
	rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
	if rep.Winner != "mixed" || !strings.Contains(rep.Summary, "latency_mean") || !strings.Contains(rep.Summary, "refusal_rate in category billing") {
		t.Errorf("winner %q, summary %q: want mixed, naming the latency win and billing's refusals", rep.Winner, rep.Summary)
	}
}

// TestABReport_OneCategoryNoBreakdown: with a single category the
// breakdown would repeat the overall rows.
func TestABReport_OneCategoryNoBreakdown(t *testing.T) {
	in := MustInput(t, 13, 1000, 1000, map[string]catSpec{"general": {weight: 1, baseline: stable, candidate: stable}})
	if rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05}); len(rep.Categories) != 0 {
		t.Errorf("%d category rows for one category", len(rep.Categories))
	}
}
