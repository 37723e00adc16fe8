package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestABReport_RowSampleSizes: each row of an A/B report says what its
// figures rest on. The report's header counts requests, while a
// quality (feedback) row rests on the rated answers alone and the refusal
// rate on the answers: a feedback row of 0.93 against 0.86 read as if
// 1,000 users a side had said so, where 40 had.
func TestABReport_RowSampleSizes(t *testing.T) {
	arm := func(errors, canceled, feedback int) Arm {
		a := qualityArm(1000, map[string][]float64{
			"heuristic": scores(1000-errors-canceled, 1, 0.9),
			"feedback":  scores(feedback, 1, 0),
		})
		a.Errors, a.Canceled, a.Refusals = errors, canceled, 30
		a.Latency = scores(1000-canceled, 100, 120, 140)
		a.Latency[0] = math.NaN() // a value that could not be read counts for nothing
		return a
	}
	in := Input{Baseline: arm(10, 20, 40), Candidate: arm(5, 0, 55)}
	rep := ABReport(in, sluice.AnalysisSpec{})
	want := map[string][2]int{
		"error_rate":          {980, 1000}, // the requests that finished
		"cancel_rate":         {1000, 1000},
		"refusal_rate":        {970, 995}, // the answers
		"latency_mean":        {979, 999},
		"quality (feedback)":  {40, 55},
		"quality (heuristic)": {970, 995},
	}
	seen := 0
	for _, m := range rep.Metrics {
		w, ok := want[m.Name()]
		if !ok {
			continue
		}
		seen++
		if m.BaselineN != w[0] || m.CandidateN != w[1] {
			t.Errorf("%s rests on %d and %d, want %d and %d", m.Name(), m.BaselineN, m.CandidateN, w[0], w[1])
		}
	}
	if seen != len(want) {
		t.Fatalf("%d of the %d rows checked: %+v", seen, len(want), rep.Metrics)
	}
	data, _ := json.Marshal(rep.Metrics)
	if !strings.Contains(string(data), `"baseline_n":40,"candidate_n":55`) {
		t.Errorf("the JSON rows do not carry their sizes: %s", data)
	}
}
