package sluice_test

import (
	"encoding/json"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestMetricVerdict_Name: a row reads as `sluice rollout status` and the
// dashboard show it. A quality source's row is always a guard (it may
// fail the candidate, and a lack of scores never holds back a pass), so it
// says so as a metric named in analysis.guards does: "quality (judge,
// guard)" beside "latency_p99 (guard)", where it read "quality (judge)".
func TestMetricVerdict_Name(t *testing.T) {
	for _, c := range []struct {
		mv   sluice.MetricVerdict
		want string
	}{
		{sluice.MetricVerdict{Metric: "latency_p50"}, "latency_p50"},
		{sluice.MetricVerdict{Metric: "latency_p99", Guard: true}, "latency_p99 (guard)"},
		{sluice.MetricVerdict{Metric: "quality", Guard: true}, "quality (guard)"},
		{sluice.MetricVerdict{Metric: "quality", Source: "judge", Guard: true}, "quality (judge, guard)"},
		// Stored before rows carried guard: a source's row was a guard all
		// the same.
		{sluice.MetricVerdict{Metric: "quality", Source: "feedback"}, "quality (feedback, guard)"},
	} {
		if got := c.mv.Name(); got != c.want {
			t.Errorf("Name of %+v = %q, want %q", c.mv, got, c.want)
		}
	}
}

// TestMetricVerdict_UnmarshalOldSourceRow: a quality source's row written
// before rows carried guard reads back as the guard it was, so the JSON of
// `sluice rollout status -o json` says guard: true on every such row.
func TestMetricVerdict_UnmarshalOldSourceRow(t *testing.T) {
	var v sluice.Verdict
	old := `{"outcome":"pass","metrics":[{"metric":"quality","outcome":"pass"},{"metric":"quality","source":"feedback","outcome":"inconclusive"}]}`
	if err := json.Unmarshal([]byte(old), &v); err != nil {
		t.Fatal(err)
	}
	if v.Metrics[0].Guard || !v.Metrics[1].Guard {
		t.Errorf("guard flags read back %v, %v; want false for the combined row, true for the source's", v.Metrics[0].Guard, v.Metrics[1].Guard)
	}
	raw, _ := json.Marshal(v.Metrics[1])
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m["guard"] != true {
		t.Errorf("written again: %s; want guard: true", raw)
	}
}
