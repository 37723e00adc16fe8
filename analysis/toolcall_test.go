package analysis

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// tools sets an arm's answers to requests that offered tools and the calls
// among them.
func tools(a *Arm, answers, calls int) {
	a.ToolAnswers, a.ToolCalls = answers, calls
}

// The tool-call rate is judged both ways (a fine-tune that stops calling
// transfer_funds, or one that calls tools where it should answer), only
// when both versions answered requests that offered tools, overall and per
// category.
func TestAnalyze_ToolCallRate(t *testing.T) {
	type counts struct{ answers, calls int }
	tests := []struct {
		name      string
		nb, nc    int
		base, cnd counts
		want      sluice.Outcome
		// row is the tool_call_rate row's outcome overall, "" for no row.
		row      sluice.Outcome
		inReason string
		inDetail string
	}{
		{name: "BaselineWithoutToolsNoRow", nb: 60000, nc: 30000, base: counts{0, 0}, cnd: counts{3000, 1500},
			want: sluice.OutcomePass},
		{name: "CandidateWithoutToolsNoRow", nb: 60000, nc: 30000, base: counts{3000, 2400}, cnd: counts{0, 0},
			want: sluice.OutcomePass},
		{name: "SameRatePasses", nb: 60000, nc: 30000, base: counts{12000, 9600}, cnd: counts{6000, 4800},
			want: sluice.OutcomePass, row: sluice.OutcomePass, inDetail: "threshold ±5.00 pts"},
		{name: "SmallDropWithinPasses", nb: 60000, nc: 30000, base: counts{12000, 9600}, cnd: counts{6000, 4680},
			want: sluice.OutcomePass, row: sluice.OutcomePass},
		{name: "Drop80To40Fails", nb: 20000, nc: 600, base: counts{4000, 3200}, cnd: counts{120, 48},
			want: sluice.OutcomeFail, row: sluice.OutcomeFail, inReason: "tool-call rate: 40.0% vs 80.0% (-40.00 pts, threshold ±5.00 pts)"},
		// The threshold scales with the rarer outcome: 20% of 50% is 10
		// points, and a drift of 6 passes.
		{name: "Drop50To44Passes", nb: 60000, nc: 30000, base: counts{12000, 6000}, cnd: counts{6000, 2640},
			want: sluice.OutcomePass, row: sluice.OutcomePass, inDetail: "threshold ±10.00 pts"},
		// From 90%, 20% of the rate (18 points) could never be reached by a
		// rise and let a drop to 73% pass: scaled by the rarer outcome (10%),
		// the 5-point floor rules, and both fail (found on review: each
		// passed before).
		{name: "Rise90To100Fails", nb: 60000, nc: 30000, base: counts{12000, 10800}, cnd: counts{6000, 6000},
			want: sluice.OutcomeFail, row: sluice.OutcomeFail, inReason: "tool-call rate: 100.0% vs 90.0% (+10.00 pts, threshold ±5.00 pts)"},
		{name: "Drop90To78Fails", nb: 60000, nc: 30000, base: counts{12000, 10800}, cnd: counts{6000, 4680},
			want: sluice.OutcomeFail, row: sluice.OutcomeFail, inReason: "tool-call rate: 78.0% vs 90.0% (-12.00 pts, threshold ±5.00 pts)"},
		// A rise fails too: the candidate calls tools where it should answer.
		{name: "Rise10To50Fails", nb: 20000, nc: 600, base: counts{4000, 400}, cnd: counts{120, 60},
			want: sluice.OutcomeFail, row: sluice.OutcomeFail, inReason: "tool-call rate: 50.0% vs 10.0% (+40.00 pts, threshold ±5.00 pts)"},
		// A young canary's first 36 tool requests all answered with a call,
		// against a baseline's 87%: 100% by chance is likely enough (0.87^36
		// is 0.7%, and a rollout looks every 10 s). The candidate's own
		// variance at 100% made it look certain, and the simulator's A/A
		// rollouts were rolled back on it 4 times in 100; the pooled floor
		// (stats.MixtureSPRT.Proportions) holds it back.
		{name: "YoungCanaryAllCallsHoldsBack", nb: 60000, nc: 1200, base: counts{20000, 17400}, cnd: counts{36, 36},
			want: sluice.OutcomeInconclusive, row: sluice.OutcomeInconclusive},
		// Beyond the threshold but on too few tool requests: no pass, no fail.
		{name: "FewToolAnswersHoldBack", nb: 60000, nc: 30000, base: counts{12000, 9600}, cnd: counts{12, 3},
			want: sluice.OutcomeInconclusive, row: sluice.OutcomeInconclusive, inReason: "tool-call rate (too little data)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := MustInput(t, 1, tc.nb, tc.nc, one(stable, stable))
			tools(&in.Baseline, tc.base.answers, tc.base.calls)
			tools(&in.Candidate, tc.cnd.answers, tc.cnd.calls)
			v := Analyze(sluice.AnalysisSpec{}, in, now)
			if v.Outcome != tc.want {
				t.Fatalf("outcome %s, want %s: %s (failing: %s)", v.Outcome, tc.want, v.Reason, failing(v))
			}
			if !strings.Contains(v.Reason, tc.inReason) {
				t.Errorf("reason %q does not contain %q", v.Reason, tc.inReason)
			}
			var row *sluice.MetricVerdict
			for i := range v.Metrics {
				if v.Metrics[i].Metric == "tool_call_rate" {
					row = &v.Metrics[i]
				}
			}
			switch {
			case tc.row == "" && row != nil:
				t.Fatalf("a tool_call_rate row without tools on both sides: %+v", *row)
			case tc.row == "":
				return
			case row == nil:
				t.Fatalf("no tool_call_rate row; rows %+v", v.Metrics)
			}
			if row.Outcome != tc.row {
				t.Errorf("row outcome %s, want %s: %s", row.Outcome, tc.row, row.Detail)
			}
			if row.BaselineN != tc.base.answers || row.CandidateN != tc.cnd.answers {
				t.Errorf("row n = %d/%d, want the tool answers %d/%d", row.BaselineN, row.CandidateN, tc.base.answers, tc.cnd.answers)
			}
			if !strings.Contains(row.Detail, tc.inDetail) {
				t.Errorf("detail %q does not contain %q", row.Detail, tc.inDetail)
			}
			t.Log(v.Reason, "|", row.Detail)
		})
	}
}

// A drop of tool calls in one category (payments) fails there, though the
// others hide it overall.
func TestAnalyze_ToolCallRateCategory(t *testing.T) {
	in := MustInput(t, 1, 60000, 6000, map[string]catSpec{
		"chat":     {weight: 0.8, baseline: stable, candidate: stable},
		"payments": {weight: 0.2, baseline: stable, candidate: stable},
	})
	set := func(cat string, bn, bx, cn, cx int) {
		p := in.Categories[cat]
		tools(&p.Baseline, bn, bx)
		tools(&p.Candidate, cn, cx)
		in.Categories[cat] = p
		in.Baseline.ToolAnswers += bn
		in.Baseline.ToolCalls += bx
		in.Candidate.ToolAnswers += cn
		in.Candidate.ToolCalls += cx
	}
	set("chat", 40000, 8000, 4000, 950) // 20% → 24%
	set("payments", 10000, 9000, 1000, 500)
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	if v.Outcome != sluice.OutcomeFail || !strings.Contains(" "+failing(v)+" ", " tool_call_rate/payments ") {
		t.Fatalf("outcome %s, failing %q, want tool_call_rate/payments: %s", v.Outcome, failing(v), v.Reason)
	}
	if !strings.Contains(v.Reason, "tool-call rate in category payments: 50.0% vs 90.0%") {
		t.Errorf("reason %q", v.Reason)
	}
}
