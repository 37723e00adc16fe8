package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_PipelineInShadow: a pipeline rollout mirrors traffic
// before its first stage. The view marked the first stage (2%) as the
// current one and showed "Hold: 1m0s of 5m0s", the time since the shadow
// started, as if the candidate were serving 2% and a third through its
// hold, while it served nothing. It now marks the shadow as current and
// shows no stage hold until the first stage begins.
func TestRenderRollout_PipelineInShadow(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyPipeline,
		Stages: []sluice.RolloutStage{{Percent: 2, Hold: sluice.Duration(5 * time.Minute)}, {Percent: 100}}}
	for _, r := range []sluice.Rollout{
		{ID: "chat-1", Phase: sluice.PhaseShadow, StageStartedAt: now.Add(-time.Minute), Spec: spec},
		{ID: "chat-1", Phase: sluice.PhasePaused, PausedFrom: sluice.PhaseShadow, StageStartedAt: now.Add(-time.Minute), PausedAt: now, Spec: spec},
	} {
		out := renderRollout(api.RolloutStatus{Rollout: r, Policy: "specific v1", StageSamples: 30, StageNeed: 200}, now)
		if !strings.Contains(out, "Stages:    ►shadow  2%  100%") {
			t.Errorf("%s: stages line does not mark the shadow as current:\n%s", r.Phase, out)
		}
		if strings.Contains(out, "Hold:") {
			t.Errorf("%s: the view shows a stage hold while mirroring:\n%s", r.Phase, out)
		}
	}
	live := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 2, StageStartedAt: now.Add(-time.Minute), Spec: spec}
	if out := renderRollout(api.RolloutStatus{Rollout: live}, now); !strings.Contains(out, "Stages:    ►2%  100%") || !strings.Contains(out, "Hold:      1m0s of 5m0s") {
		t.Errorf("first stage live: view lacks its mark or hold:\n%s", out)
	}
}
