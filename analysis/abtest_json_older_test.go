package analysis

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestABMetric_JSONWithoutSimultaneousInterval: a report stored before the
// rows carried simultaneous intervals has none, and the API, which reads
// the stored report into a Report and writes it out again, gave each of
// its rows "adjusted_lower": 0, "adjusted_upper": 0: an interval [0, 0]
// that a script checking equivalence (adjusted_lower ≥ −margin and
// adjusted_upper ≤ margin) read as "within" on every row of every older
// report. Without adjusted_level the two are left out, as absent; with
// it they are written, a bound of 0 included (two constant, equal arms).
func TestABMetric_JSONWithoutSimultaneousInterval(t *testing.T) {
	older := `{"metric":"error_rate","baseline":0.01,"candidate":0.0375,"diff":0.0275,"lower":0.0062,"upper":0.0517,"margin":0.005,"equivalence":"beyond","p_value":0.0106,"adjusted_p":0.085,"winner":"no difference"}`
	var m ABMetric
	if err := json.Unmarshal([]byte(older), &m); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); strings.Contains(s, "adjusted_lower") || strings.Contains(s, "adjusted_upper") || strings.Contains(s, "adjusted_level") || !strings.Contains(s, `"lower":0.0062`) {
		t.Errorf("an older report's row is written %s: want no simultaneous interval, its own kept", s)
	}
	var back map[string]any
	if err := json.Unmarshal(out, &back); err != nil || back["metric"] != "error_rate" || back["equivalence"] != "beyond" || back["adjusted_p"] != 0.085 {
		t.Errorf("the row's other fields: %v (%v)", back, err)
	}

	// A new report's rows keep theirs, zero bounds too: two arms of
	// constant, equal values have the interval [0, 0] at its level.
	rep := ABReport(Input{Baseline: errorArm(400, 4), Candidate: errorArm(400, 15)}, sluice.AnalysisSpec{Alpha: 0.05})
	for i := range rep.Metrics {
		rep.Metrics[i].AdjustedLower, rep.Metrics[i].AdjustedUpper = 0, 0
	}
	out, err = json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Metrics []map[string]any `json:"metrics"`
	}
	if err := json.Unmarshal(out, &wire); err != nil || len(wire.Metrics) != 8 {
		t.Fatalf("%v: %s", err, out)
	}
	for _, r := range wire.Metrics {
		if r["adjusted_lower"] != 0.0 || r["adjusted_upper"] != 0.0 || r["adjusted_level"] != 1-0.05/8 {
			t.Errorf("%v: adjusted_lower %v, adjusted_upper %v at %v; want 0 and 0 written at 0.99375", r["metric"], r["adjusted_lower"], r["adjusted_upper"], r["adjusted_level"])
		}
	}
	var round Report
	if err := json.Unmarshal(out, &round); err != nil || round.Metrics[0].AdjustedLevel != 1-0.05/8 || round.Metrics[0].Lower != rep.Metrics[0].Lower {
		t.Errorf("round trip: %+v (%v)", round.Metrics[0], err)
	}
}
