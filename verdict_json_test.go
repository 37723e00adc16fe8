package sluice_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// rowEnds returns the lower and upper ends of each metric row of a
// verdict's JSON, as decoded into any (nil for null).
func rowEnds(t *testing.T, raw []byte) [][2]any {
	t.Helper()
	var doc struct {
		Metrics []map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("verdict JSON: %v: %s", err, raw)
	}
	var out [][2]any
	for _, m := range doc.Metrics {
		if _, ok := m["lower"]; !ok {
			t.Fatalf("row %v has no lower", m)
		}
		if _, ok := m["upper"]; !ok {
			t.Fatalf("row %v has no upper", m)
		}
		out = append(out, [2]any{m["lower"], m["upper"]})
	}
	return out
}

func TestMetricVerdict_JSONUnboundedEnds(t *testing.T) {
	v := sluice.Verdict{Outcome: sluice.OutcomeInconclusive, Metrics: []sluice.MetricVerdict{
		{Metric: "latency_p99", Effect: 0.1, Lower: math.Inf(-1), Upper: math.Inf(1), Threshold: 0.2, Unit: "relative", PValue: 1, CandidateN: 3},
		{Metric: "error_rate", Effect: 0.01, Lower: -0.02, Upper: math.Inf(1), Threshold: 0.005, Unit: "absolute", PValue: 0.4},
		{Metric: "quality", Effect: -0.01, Lower: math.Inf(-1), Upper: 0.03, Unit: "absolute"},
	}}

	t.Run("OK", func(t *testing.T) {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if strings.Contains(string(raw), "e+308") {
			t.Errorf("JSON holds a stand-in for infinity: %s", raw)
		}
		want := [][2]any{{nil, nil}, {-0.02, nil}, {nil, 0.03}}
		if got := rowEnds(t, raw); !reflect.DeepEqual(got, want) {
			t.Errorf("ends in JSON = %v, want %v (nil: null)\n%s", got, want, raw)
		}
		var back sluice.Verdict
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		if !reflect.DeepEqual(back, v) {
			t.Errorf("read back\n%+v\nwant\n%+v", back, v)
		}
	})

	t.Run("OldMaxFloat64", func(t *testing.T) {
		// Written before null stood for an unbounded end: Go's form, and
		// the digits a JSON engine may turn it into.
		digits := "179769313486231570" + strings.Repeat("0", 291)
		old := `{"outcome":"inconclusive","metrics":[` +
			`{"metric":"latency_p99","lower":-1.7976931348623157e+308,"upper":1.7976931348623157e+308},` +
			`{"metric":"error_rate","lower":-` + digits + `,"upper":` + digits + `},` +
			`{"metric":"quality","lower":-0.5,"upper":0.25}]}`
		var back sluice.Verdict
		if err := json.Unmarshal([]byte(old), &back); err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		for i, m := range back.Metrics[:2] {
			if !math.IsInf(m.Lower, -1) || !math.IsInf(m.Upper, 1) {
				t.Errorf("row %d read back [%v, %v], want unbounded both ways", i, m.Lower, m.Upper)
			}
		}
		if m := back.Metrics[2]; m.Lower != -0.5 || m.Upper != 0.25 {
			t.Errorf("a bounded row read back [%v, %v], want [-0.5, 0.25]", m.Lower, m.Upper)
		}
		raw, _ := json.Marshal(back)
		if got := rowEnds(t, raw); got[0] != [2]any{nil, nil} || got[1] != [2]any{nil, nil} {
			t.Errorf("written again, ends = %v, want null: %s", got, raw)
		}
	})

	t.Run("MissingEndIsZero", func(t *testing.T) {
		var m sluice.MetricVerdict
		if err := json.Unmarshal([]byte(`{"metric":"error_rate","p_value":0.3}`), &m); err != nil {
			t.Fatalf("Unmarshal: %v", err)
		}
		if m.Lower != 0 || m.Upper != 0 || m.PValue != 0.3 || m.Metric != "error_rate" {
			t.Errorf("read %+v, want the metric, p 0.3 and both ends 0", m)
		}
	})

	t.Run("SameFieldsOnTheWire", func(t *testing.T) {
		// Every field of MetricVerdict is written: a field added to the
		// type and not to its JSON form would be lost silently.
		m := sluice.MetricVerdict{Metric: "m", Category: "c", Source: "s", Guard: true, Outcome: sluice.OutcomeFail, Baseline: 1, Candidate: 2, Effect: 3,
			Lower: 4, Upper: 5, Threshold: 6, ThresholdMS: 10, Unit: "u", PValue: 7, BaselineN: 8, CandidateN: 9, Detail: "d"}
		for i := range reflect.TypeFor[sluice.MetricVerdict]().NumField() {
			if reflect.ValueOf(m).Field(i).IsZero() {
				t.Fatalf("test row leaves field %s zero: set it", reflect.TypeFor[sluice.MetricVerdict]().Field(i).Name)
			}
		}
		raw, _ := json.Marshal(m)
		var back sluice.MetricVerdict
		if err := json.Unmarshal(raw, &back); err != nil || back != m {
			t.Errorf("round trip = %+v (%v), want %+v", back, err, m)
		}
	})
}

func TestRollout_UnmarshalOldUnboundedEnds(t *testing.T) {
	old := `{"id":"chat-1","spec":{"model":"chat","candidate":"v2"},"phase":"progressing",` +
		`"last_verdict":{"outcome":"fail","reason":"r","metrics":[{"metric":"latency_p99","lower":0.3,"upper":1.7976931348623157e+308,"p_value":0.01}]},` +
		`"events":[{"at":"2026-11-22T10:00:00Z","kind":"verdict","message":"m","percent":5,"data":{"outcome":"fail","metrics":[{"metric":"error_rate","lower":-1.7976931348623157e+308,"upper":0.2}]}},` +
		`{"at":"2026-11-22T10:00:00Z","kind":"stage","message":"s","percent":5,"data":{"stage":1,"note":1.7976931348623157e+308}}]}`
	var r sluice.Rollout
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if got := rowEnds(t, r.LastVerdict); !reflect.DeepEqual(got, [][2]any{{0.3, nil}}) {
		t.Errorf("last_verdict ends = %v, want [0.3 null]: %s", got, r.LastVerdict)
	}
	if got := rowEnds(t, r.Events[0].Data); !reflect.DeepEqual(got, [][2]any{{nil, 0.2}}) {
		t.Errorf("event verdict ends = %v, want [null 0.2]: %s", got, r.Events[0].Data)
	}
	if !strings.Contains(string(r.Events[1].Data), "1.7976931348623157e+308") {
		t.Errorf("an event's data that is not a verdict changed: %s", r.Events[1].Data)
	}
	var v sluice.Verdict
	if err := json.Unmarshal(r.LastVerdict, &v); err != nil || v.Reason != "r" || v.Metrics[0].PValue != 0.01 || !math.IsInf(v.Metrics[0].Upper, 1) {
		t.Errorf("last verdict = %+v (%v), want its reason, p-value and an unbounded upper end", v, err)
	}
	if r.ID != "chat-1" || r.Spec.Model != "chat" || r.Phase != sluice.PhaseProgressing || len(r.Events) != 2 {
		t.Errorf("rollout = %+v, want the rest of the document as it was", r)
	}
}
