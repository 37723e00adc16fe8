package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// A verdict on a handful of candidate requests has intervals with no end
// yet (p99 of five requests). Its JSON says so with null, not with
// ±1.797e308 (math.MaxFloat64), which a script took for a number, and the
// verdict reads back with those ends unbounded.
func TestAnalyze_UnboundedEndsInJSON(t *testing.T) {
	in := MustInput(t, 1, 2000, 5, one(stable, stable))
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	row := metric(t, v, "latency_p99", "")
	if !math.IsInf(row.Upper, 1) {
		t.Fatalf("setup: p99's upper end on 5 requests = %v, want unbounded", row.Upper)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if strings.Contains(string(raw), "e+308") {
		t.Errorf("verdict JSON holds ±MaxFloat64: %s", raw)
	}
	if !strings.Contains(string(raw), `"upper":null`) {
		t.Errorf("verdict JSON has no null upper end: %s", raw)
	}
	var back sluice.Verdict
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if got := metric(t, back, "latency_p99", ""); !math.IsInf(got.Upper, 1) || got.Lower != row.Lower {
		t.Errorf("read back [%v, %v], want [%v, +Inf]", got.Lower, got.Upper, row.Lower)
	}
}
