package analysis_test

import (
	"reflect"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
)

// TestWithQualityRow: an A/B report decided again with its quality
// (feedback) row drawn on the same scores is the report; drawn on scores
// where users turned the candidate down, the baseline wins; the report
// given is never changed.
func TestWithQualityRow(t *testing.T) {
	arm := func(n int, feedback []float64) analysis.Arm {
		return analysis.Arm{Requests: n, Quality: feedback, QualityBySource: map[string][]float64{"feedback": feedback}}
	}
	ones := func(n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = 1
		}
		return out
	}
	spec := sluice.AnalysisSpec{}
	in := analysis.Input{Baseline: arm(500, ones(40)), Candidate: arm(500, ones(40))}
	rep := analysis.ABReport(in, spec)
	if rep.Winner != "no difference" {
		t.Fatalf("report of equal arms: %s (%s)", rep.Winner, rep.Summary)
	}
	before := analysis.ABReport(in, spec)

	row, ok := analysis.ABQualityRow("feedback", ones(40), ones(40), spec)
	if !ok {
		t.Fatal("no row of 40 scores a side")
	}
	if same := analysis.WithQualityRow(rep, "feedback", &row); !reflect.DeepEqual(same, rep) {
		t.Errorf("decided again on the same scores:\n%+v\nwant the report\n%+v", same, rep)
	}

	down := append(ones(40), make([]float64, 25)...)
	row, _ = analysis.ABQualityRow("feedback", ones(45), down, spec)
	with := analysis.WithQualityRow(rep, "feedback", &row)
	if with.Winner != "baseline" || len(with.Metrics) != len(rep.Metrics) {
		t.Errorf("with 25 thumbs down on the candidate: winner %s (%s), %d rows; want the baseline, %d rows", with.Winner, with.Summary, len(with.Metrics), len(rep.Metrics))
	}
	if !reflect.DeepEqual(rep, before) {
		t.Errorf("WithQualityRow changed the report it was given")
	}
	// No row (too few scores): the report without its feedback row.
	if without := analysis.WithQualityRow(rep, "feedback", nil); len(without.Metrics) != len(rep.Metrics)-1 {
		t.Errorf("without the feedback row: %d rows, want %d", len(without.Metrics), len(rep.Metrics)-1)
	}
}
