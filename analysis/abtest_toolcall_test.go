package analysis

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestABReport_ToolCallRate: an A/B test compares the tool-call rate over
// the answers to requests that offered tools, only when both arms had such
// answers. A significant difference is reported by direction ("higher",
// "lower"), not as a win for either arm, since the canary analysis fails a
// change either way.
func TestABReport_ToolCallRate(t *testing.T) {
	row := func(rep Report) *ABMetric {
		for i := range rep.Metrics {
			if rep.Metrics[i].Metric == "tool_call_rate" {
				return &rep.Metrics[i]
			}
		}
		return nil
	}
	t.Run("Lower", func(t *testing.T) {
		in := MustInput(t, 5, 3000, 3000, one(stable, stable))
		tools(&in.Baseline, 1000, 800)
		tools(&in.Candidate, 1000, 400)
		rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
		m := row(rep)
		if m == nil {
			t.Fatalf("no tool_call_rate row: %+v", rep.Metrics)
		}
		if m.Baseline != 0.8 || m.Candidate != 0.4 || m.Winner != "lower" || m.AdjustedP > 0.05 || m.Test != "two-proportion z" || m.Upper >= 0 {
			t.Errorf("tool_call_rate: %+v", *m)
		}
		if rep.Winner != "no difference" {
			t.Errorf("winner %q, want no difference (neither direction of the tool-call rate wins): %s", rep.Winner, rep.Summary)
		}
	})
	t.Run("Higher", func(t *testing.T) {
		in := MustInput(t, 5, 3000, 3000, one(stable, stable))
		tools(&in.Baseline, 1000, 100)
		tools(&in.Candidate, 1000, 500)
		if m := row(ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})); m == nil || m.Winner != "higher" {
			t.Errorf("tool_call_rate: %+v", m)
		}
	})
	t.Run("Same", func(t *testing.T) {
		in := MustInput(t, 5, 3000, 3000, one(stable, stable))
		tools(&in.Baseline, 1000, 800)
		tools(&in.Candidate, 1000, 800)
		if m := row(ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})); m == nil || m.Winner != "no difference" {
			t.Errorf("tool_call_rate: %+v", m)
		}
	})
	t.Run("NoToolsInOneArm", func(t *testing.T) {
		in := MustInput(t, 5, 3000, 3000, one(stable, stable))
		tools(&in.Baseline, 1000, 800)
		if m := row(ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})); m != nil {
			t.Errorf("a tool_call_rate row without tool answers in the candidate: %+v", *m)
		}
	})
}

// TestABReport_SummaryNamesShifts: a significant change that favours
// neither arm (the tool-call rate halved) leaves the winner at "no
// difference", but the summary says it happened rather than "no
// significant difference".
func TestABReport_SummaryNamesShifts(t *testing.T) {
	in := MustInput(t, 5, 3000, 3000, one(stable, stable))
	tools(&in.Baseline, 1000, 800)
	tools(&in.Candidate, 1000, 400)
	rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
	if rep.Winner != "no difference" {
		t.Fatalf("winner %q: %s", rep.Winner, rep.Summary)
	}
	if strings.Contains(rep.Summary, "no significant difference") || !strings.Contains(rep.Summary, "tool_call_rate lower") {
		t.Errorf("summary %q, want it to name the tool_call_rate's significant drop", rep.Summary)
	}
	// Without the change, the summary stays as it was.
	same := MustInput(t, 5, 3000, 3000, one(stable, stable))
	tools(&same.Baseline, 1000, 800)
	tools(&same.Candidate, 1000, 800)
	if rep := ABReport(same, sluice.AnalysisSpec{Alpha: 0.05}); !strings.HasPrefix(rep.Summary, "no significant difference") {
		t.Errorf("summary %q, want no significant difference", rep.Summary)
	}
}
