package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_StageWithoutHold: a stage may have no minimum hold (a
// model file's `stages: [{percent: 20}]`), and the view said "Hold: 55s of
// 0s", a hold of nothing not yet over. It now says the stage has none and
// how long the candidate has been at it.
func TestRenderRollout_StageWithoutHold(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 5, 0, 0, time.UTC)
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{{Percent: 20}, {Percent: 100}}}
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 20, StageStartedAt: now.Add(-55 * time.Second), Spec: spec}
	out := renderRollout(api.RolloutStatus{Rollout: r, Policy: "split v1=80 v2=20"}, now)
	if strings.Contains(out, "of 0s") || !strings.Contains(out, "Hold:      none (55s at this stage)") {
		t.Errorf("a stage without a hold:\n%s", out)
	}
}
