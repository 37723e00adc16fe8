package sim

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRunner_ToolCallRateDropIsRolledBack: the candidate answers payment
// requests in prose where the stable version calls transfer_funds
// (scenario tool_calls_drop). The sequential analysis rolls it back on the
// tool-call rate, and so does the fixed gate with its min_tool_call_rate;
// without that bound the fixed gate cannot see it.
func TestRunner_ToolCallRateDropIsRolledBack(t *testing.T) {
	runs := 10
	if raceDetector {
		runs = 3
	}
	sc := MustScenario(t, "tool_calls_drop", 30*time.Minute)
	res := Run(context.Background(), sc, Options{Runs: runs, Seed: 7})
	seq, fixed := res.Gates[0], res.Gates[1]
	if s := seq.Summary; s.RolledBack < runs*9/10 {
		t.Errorf("sequential: only %d of %d runs rolled back; last reason: %s", s.RolledBack, runs, seq.Runs[runs-1].Reason)
	}
	if r := seq.Runs[0]; !strings.Contains(r.Reason, "tool-call rate") {
		t.Errorf("sequential: rolled back for %q, want the tool-call rate", r.Reason)
	}
	if s := fixed.Summary; s.RolledBack != runs {
		t.Errorf("fixed gate with min_tool_call_rate: %d of %d runs rolled back; last reason: %s", s.RolledBack, runs, fixed.Runs[runs-1].Reason)
	}
	if r := fixed.Runs[0]; !strings.Contains(r.Reason, "tool-call rate") || !strings.Contains(r.Reason, "below the minimum 75.0%") {
		t.Errorf("fixed gate: rolled back for %q, want the tool-call rate below its minimum", r.Reason)
	}
	t.Logf("sequential: %s; fixed: %s", seq.Runs[0].Reason, fixed.Runs[0].Reason)

	sc.FixedGate.MinToolCallRate = 0
	blind := Run(context.Background(), sc, Options{Runs: runs, Seed: 7, Gates: []Gate{GateFixed}}).Gates[0]
	for _, r := range blind.Runs {
		// It may still roll back on its other limits, as it does an A/A.
		if strings.Contains(r.Reason, "tool-call rate") {
			t.Errorf("the fixed gate without min_tool_call_rate judged the tool-call rate: %s", r.Reason)
		}
	}
	if blind.Summary.RolledBack > runs/2 {
		t.Errorf("the fixed gate without min_tool_call_rate rolled back %d of %d runs", blind.Summary.RolledBack, runs)
	}
}

// TestParseScenario_Tools: traffic.tools names categories of the traffic
// and shares between 0 and 1, and the fixed gate's tool-call bounds are
// rates in order.
func TestParseScenario_Tools(t *testing.T) {
	base := `
traffic: {rate: 10, users: 10, categories: {chat: 1, payments: 1}, tools: %s}
rollout: {strategy: canary, canary_percent: 10}
fixed_gate: %s
`
	for _, tc := range []struct {
		tools, gate, want string
	}{
		{`{payments: 1}`, `{min_tool_call_rate: 0.6, max_tool_call_rate: 0.95}`, ""},
		{`{search: 0.5}`, `{}`, "traffic.tools.search: not a category of traffic.categories"},
		{`{payments: 1.5}`, `{}`, "traffic.tools.payments: must be between 0 and 1, got 1.5"},
		{`{payments: 1}`, `{min_tool_call_rate: 60}`, "fixed_gate.min_tool_call_rate: must be between 0 and 1, got 60"},
		{`{payments: 1}`, `{min_tool_call_rate: 0.9, max_tool_call_rate: 0.5}`, "fixed_gate.min_tool_call_rate: 0.9 is above max_tool_call_rate 0.5"},
	} {
		_, err := ParseScenario([]byte(fmt.Sprintf(base, tc.tools, tc.gate)))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("tools %s, gate %s: %v", tc.tools, tc.gate, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("tools %s, gate %s: error %v, want %q", tc.tools, tc.gate, err, tc.want)
		}
	}
}
