package analysis

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestFixedGate_ToolCallRate: a user bounds the candidate's tool-call rate
// (over the answers to requests that offered tools) from below, from above,
// or both; a window without such answers is not judged on it.
func TestFixedGate_ToolCallRate(t *testing.T) {
	tests := []struct {
		name          string
		gate          FixedGateSpec
		answers, call int
		want          sluice.Outcome
		inReason      string
		rows          int
	}{
		{"DropBelowMinimumFails", FixedGateSpec{MinToolCallRate: 0.6, MinRequests: 50}, 400, 160, sluice.OutcomeFail,
			"tool-call rate 40.0% below the minimum 60.0%", 1},
		{"RiseAboveLimitFails", FixedGateSpec{MaxToolCallRate: 0.3, MinRequests: 50}, 400, 200, sluice.OutcomeFail,
			"tool-call rate 50.0% above the limit 30.0%", 1},
		{"WithinBothPasses", FixedGateSpec{MinToolCallRate: 0.6, MaxToolCallRate: 0.95, MinRequests: 50}, 400, 320, sluice.OutcomePass,
			"every limit met", 2},
		{"NoToolRequestsNotJudged", FixedGateSpec{MinToolCallRate: 0.6, MinRequests: 50}, 0, 0, sluice.OutcomePass,
			"every limit met", 0},
		{"NoBoundNotChecked", FixedGateSpec{MaxErrorRate: 0.5, MinRequests: 50}, 400, 0, sluice.OutcomePass,
			"every limit met", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := MustArm(t, rand.New(rand.NewPCG(1, 1)), stable, 2000)
			tools(&a, tc.answers, tc.call)
			v := FixedGate(tc.gate, a)
			if v.Outcome != tc.want || !strings.Contains(v.Reason, tc.inReason) {
				t.Errorf("got %s %q, want %s containing %q", v.Outcome, v.Reason, tc.want, tc.inReason)
			}
			rows := 0
			for _, m := range v.Metrics {
				if m.Metric != "tool_call_rate" {
					continue
				}
				rows++
				if m.CandidateN != tc.answers || m.Candidate != float64(tc.call)/float64(tc.answers) {
					t.Errorf("row %+v, want the rate over the %d tool answers", m, tc.answers)
				}
			}
			if rows != tc.rows {
				t.Errorf("%d tool_call_rate rows, want %d: %+v", rows, tc.rows, v.Metrics)
			}
		})
	}
}
