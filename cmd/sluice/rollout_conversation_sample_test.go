package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_ConversationSample: the stage's sample counts a
// Responses conversation once (observe.Units), so 14 samples may stand for
// 140 requests. The Sample line said "14 of 100 split requests to the
// candidate" while 140 had gone to it; it says what the 14 are, and leaves
// a sample of lone requests as it was.
func TestRenderRollout_ConversationSample(t *testing.T) {
	now := time.Date(2026, 12, 7, 23, 10, 0, 0, time.UTC)
	r := sluice.Rollout{ID: "chat-20261207-230000.000", Phase: sluice.PhaseProgressing, Percent: 50,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary, CanaryPercent: 50,
			Analysis: sluice.AnalysisSpec{MinSamples: 100}},
		StageStartedAt: now.Add(-time.Minute), LiveAt: now.Add(-time.Minute)}
	st := api.RolloutStatus{Rollout: r, StageSamples: 14, StageNeed: 100, StageRequests: 140}
	want := "14 of 100 split requests to the candidate (analysis.min_samples), a Responses conversation's turns counted once (140 requests)\n"
	if out := renderRollout(st, now); !strings.Contains(out, want) {
		t.Errorf("want %q in:\n%s", want, out)
	}
	st.StageRequests = 0
	if out := renderRollout(st, now); !strings.Contains(out, "14 of 100 split requests to the candidate (analysis.min_samples)\n") {
		t.Errorf("lone requests: want the sample line as before in:\n%s", out)
	}
}
