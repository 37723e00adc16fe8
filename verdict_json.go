package sluice

import (
	"bytes"
	"encoding/json"
	"math"
)

// The JSON form of a verdict's interval: an end the interval does not have
// (Lower −Inf, Upper +Inf in Go) is null, since JSON has no infinities. It
// was written as ±math.MaxFloat64 (±1.797e308) before, which a script took
// for a number; such ends still read back as unbounded.

// verdictFields is MetricVerdict without its JSON methods: the wire forms
// below embed it, so every field but the interval's ends is written and
// read as declared, and a field added to MetricVerdict needs nothing here.
type verdictFields MetricVerdict

var jsonNull = json.RawMessage("null")

// MarshalJSON writes the verdict with an unbounded end of its interval
// (an infinite Lower or Upper) as null.
func (mv MetricVerdict) MarshalJSON() ([]byte, error) {
	end := func(x float64) json.RawMessage {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return jsonNull
		}
		b, _ := json.Marshal(x) // finite: cannot fail
		return b
	}
	return json.Marshal(struct {
		verdictFields
		Lower json.RawMessage `json:"lower"`
		Upper json.RawMessage `json:"upper"`
	}{verdictFields(mv), end(mv.Lower), end(mv.Upper)})
}

// UnmarshalJSON reads a verdict: a null end of the interval is unbounded
// (Lower −Inf, Upper +Inf), and so is ±math.MaxFloat64, which stood for it
// in documents written before null did. A missing end is 0, as before. A
// row with a Source is a guard, also in documents from before Guard.
func (mv *MetricVerdict) UnmarshalJSON(b []byte) error {
	*mv = MetricVerdict{}
	w := struct {
		*verdictFields
		Lower json.RawMessage `json:"lower"`
		Upper json.RawMessage `json:"upper"`
	}{verdictFields: (*verdictFields)(mv)}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	lower, err := intervalEnd(w.Lower, -1)
	if err != nil {
		return err
	}
	upper, err := intervalEnd(w.Upper, 1)
	if err != nil {
		return err
	}
	mv.Lower, mv.Upper = lower, upper
	// A quality source's row is always a guard; one written before rows
	// carried guard says so once read.
	if mv.Source != "" {
		mv.Guard = true
	}
	return nil
}

// intervalEnd reads one end of an interval; sign says which (−1 lower,
// +1 upper) an unbounded one is.
func intervalEnd(raw json.RawMessage, sign int) (float64, error) {
	if len(raw) == 0 {
		return 0, nil
	}
	if bytes.Equal(raw, jsonNull) {
		return math.Inf(sign), nil
	}
	var x float64
	if err := json.Unmarshal(raw, &x); err != nil {
		return 0, err
	}
	if unboundedEnd(x) {
		return math.Inf(sign), nil
	}
	return x, nil
}

// unboundedEnd says whether x is ±math.MaxFloat64 (or beyond), the number
// older documents hold for an unbounded end.
func unboundedEnd(x float64) bool { return math.Abs(x) >= math.MaxFloat64 }

// maxFloatDigits occurs in math.MaxFloat64 however it is written: Go's
// 1.7976931348623157e+308 and the 309 digits some JSON engines print.
var maxFloatDigits = []byte("7976931348623157")

// unboundedNull rewrites the ±math.MaxFloat64 ends of the intervals in a
// verdict's raw JSON (what Rollout.LastVerdict and an event's Data hold) as
// null, so that a document stored before null stood for an unbounded end
// answers as a new one does. Anything else, verdict or not, is returned as
// it is, as is raw without that number (the common case, found by a
// search of its bytes).
func unboundedNull(raw json.RawMessage) json.RawMessage {
	if !bytes.Contains(raw, maxFloatDigits) {
		return raw
	}
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil || doc["metrics"] == nil {
		return raw
	}
	var rows []map[string]json.RawMessage
	if json.Unmarshal(doc["metrics"], &rows) != nil {
		return raw
	}
	changed := false
	for _, row := range rows {
		for _, k := range []string{"lower", "upper"} {
			var x float64
			if row[k] != nil && json.Unmarshal(row[k], &x) == nil && unboundedEnd(x) {
				row[k] = jsonNull
				changed = true
			}
		}
	}
	if !changed {
		return raw
	}
	metrics, err := json.Marshal(rows)
	if err != nil {
		return raw
	}
	doc["metrics"] = metrics
	out, err := json.Marshal(doc)
	if err != nil {
		return raw
	}
	return out
}

// UnmarshalJSON reads a rollout document, rewriting in its verdicts (the
// latest and those its events hold) the ±math.MaxFloat64 that stood for an
// unbounded end of an interval before null did.
func (r *Rollout) UnmarshalJSON(b []byte) error {
	type plain Rollout // without this method
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	if !bytes.Contains(b, maxFloatDigits) {
		return nil
	}
	r.LastVerdict = unboundedNull(r.LastVerdict)
	for i := range r.Events {
		r.Events[i].Data = unboundedNull(r.Events[i].Data)
	}
	return nil
}
