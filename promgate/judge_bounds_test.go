package promgate_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
)

// A gate with one bound has no other: its row's other end is unbounded
// (null in JSON), not 0, which read as a bound of zero.
func TestJudge_MissingBoundUnbounded(t *testing.T) {
	for _, tc := range []struct {
		name         string
		gate         sluice.PromGate
		lower, upper float64
		json         string
	}{
		{"MaxOnly", sluice.PromGate{Name: "errors", Query: "q", Max: f(0.05)}, math.Inf(-1), 0.05, `"lower":null,"upper":0.05`},
		{"MinOnly", sluice.PromGate{Name: "gpu", Query: "q", Min: f(-2)}, -2, math.Inf(1), `"lower":-2,"upper":null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, res := range []promgate.Result{{Gate: tc.gate, Value: 0.01}, {Gate: tc.gate, NoData: true}} {
				mv := promgate.Judge(res)
				if mv.Lower != tc.lower || mv.Upper != tc.upper {
					t.Errorf("Judge(%+v) bounds [%v, %v], want [%v, %v]", res, mv.Lower, mv.Upper, tc.lower, tc.upper)
				}
				raw, err := json.Marshal(mv)
				if err != nil || !strings.Contains(string(raw), tc.json) {
					t.Errorf("JSON %s (%v), want it to hold %s", raw, err, tc.json)
				}
			}
		})
	}
}
