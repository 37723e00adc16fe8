package analysis

import (
	"math"
	"testing"
)

// TestABAdjust_OneFamily: the overall and the category rows of an A/B
// report are one family, alpha split half and half (as Analyze splits
// it), not two families each at alpha, which let a report name a false
// winner with a chance of up to twice alpha. Two rows at p = 0.03, one in
// each group, are each adjusted to 0.06: neither wins at 0.05 (each would
// have, alone in its family).
func TestABAdjust_OneFamily(t *testing.T) {
	overall := []ABMetric{{Metric: "refusal_rate", PValue: 0.03, Diff: 0.1}}
	cats := []ABMetric{{Metric: "refusal_rate", Category: "billing", PValue: 0.03, Diff: 0.1}}
	abAdjust(overall, cats)
	if math.Abs(overall[0].AdjustedP-0.06) > 1e-12 || math.Abs(cats[0].AdjustedP-0.06) > 1e-12 {
		t.Errorf("adjusted p-values %v (overall) and %v (category), want 0.06 each", overall[0].AdjustedP, cats[0].AdjustedP)
	}
	if _, base, _ := judgeAB(cats, 0.05); len(base) != 0 {
		t.Errorf("the category row wins for the baseline at adjusted p %v", cats[0].AdjustedP)
	}
	// Without categories the overall rows have all of alpha: plain Holm.
	alone := []ABMetric{{Metric: "refusal_rate", PValue: 0.03, Diff: 0.1}}
	abAdjust(alone, nil)
	if alone[0].AdjustedP != 0.03 {
		t.Errorf("a lone overall row adjusted to %v, want 0.03", alone[0].AdjustedP)
	}
}
