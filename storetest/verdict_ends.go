package storetest

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// testRolloutOldUnboundedEnds reads back a rollout document written before
// an unbounded end of a verdict's interval was null, when it was
// ±math.MaxFloat64: its verdicts (the latest, and an event's) answer null,
// that is unbounded, and a verdict written now keeps its null.
func testRolloutOldUnboundedEnds(t *testing.T, s sluice.Store) {
	seed(t, s)
	r := fullRollout("chat-1", sluice.PhaseProgressing)
	r.LastVerdict = json.RawMessage(`{"outcome":"inconclusive","reason":"old","metrics":[{"metric":"latency_p99","lower":-1.7976931348623157e+308,"upper":1.7976931348623157e+308,"p_value":1}]}`)
	r.Events = append(r.Events, sluice.RolloutEvent{At: at(2 * time.Minute), Kind: "verdict", Message: "analysis failed", Percent: 1,
		Data: json.RawMessage(`{"outcome":"fail","metrics":[{"metric":"error_rate","lower":0.01,"upper":1.7976931348623157e+308}]}`)})
	edit(t, s, "old rollout", at(11*time.Minute), func(e *sluice.Edit) { putRollout(t, e, r) })

	got := mustLoad(t, s).Rollouts["chat"]
	if got == nil {
		t.Fatal("the rollout did not read back")
	}
	var last, ev sluice.Verdict
	if err := json.Unmarshal(got.LastVerdict, &last); err != nil || len(last.Metrics) != 1 || last.Reason != "old" {
		t.Fatalf("last verdict %s: %v, want one row and its reason", got.LastVerdict, err)
	}
	if m := last.Metrics[0]; !math.IsInf(m.Lower, -1) || !math.IsInf(m.Upper, 1) {
		t.Errorf("last verdict's interval = [%v, %v], want unbounded both ways", m.Lower, m.Upper)
	}
	if !sameJSON(got.LastVerdict, json.RawMessage(`{"outcome":"inconclusive","reason":"old","metrics":[{"metric":"latency_p99","lower":null,"upper":null,"p_value":1}]}`)) {
		t.Errorf("last verdict as stored = %s, want its ends null", got.LastVerdict)
	}
	data := got.Events[len(got.Events)-1].Data
	if err := json.Unmarshal(data, &ev); err != nil || len(ev.Metrics) != 1 {
		t.Fatalf("event verdict %s: %v", data, err)
	}
	if m := ev.Metrics[0]; m.Lower != 0.01 || !math.IsInf(m.Upper, 1) {
		t.Errorf("event verdict's interval = [%v, %v], want [0.01, +Inf]", m.Lower, m.Upper)
	}
	if !sameJSON(data, json.RawMessage(`{"outcome":"fail","metrics":[{"metric":"error_rate","lower":0.01,"upper":null}]}`)) {
		t.Errorf("event verdict as stored = %s, want its upper end null", data)
	}

	// A verdict written now, with infinite ends, is stored with null.
	next := got.Clone()
	next.LastVerdict, _ = json.Marshal(sluice.Verdict{Outcome: sluice.OutcomeInconclusive, Metrics: []sluice.MetricVerdict{{Metric: "ttft", Lower: math.Inf(-1), Upper: math.Inf(1)}}})
	edit(t, s, "new verdict", at(12*time.Minute), func(e *sluice.Edit) { putRollout(t, e, next) })
	got = mustLoad(t, s).Rollouts["chat"]
	var now sluice.Verdict
	if err := json.Unmarshal(got.LastVerdict, &now); err != nil || len(now.Metrics) != 1 || !math.IsInf(now.Metrics[0].Lower, -1) || !math.IsInf(now.Metrics[0].Upper, 1) {
		t.Errorf("new verdict read back %s (%v), want its ends unbounded", got.LastVerdict, err)
	}
}
