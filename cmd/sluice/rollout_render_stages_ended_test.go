package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestRenderRollout_StagesMarkWhereItEnded: a progressive rollout rolled
// back at its second stage showed "Stages:    ✔20%  50%  100%", nothing
// saying it ended at 50% (a first-hour trial); ✘ now marks that stage. One
// that never went live (rolled back in its shadow phase) marks none.
func TestRenderRollout_StagesMarkWhereItEnded(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{{Percent: 20}, {Percent: 50}, {Percent: 100}}}
	for _, c := range []struct {
		name  string
		r     sluice.Rollout
		stage string
	}{
		{"RolledBack", sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseRolledBack, StageIndex: 1, LiveAt: now.Add(-time.Minute), Spec: spec}, "Stages:    ✔20% ✘50%  100%"},
		{"Aborted", sluice.Rollout{ID: "chat-2", Phase: sluice.PhaseAborted, StageIndex: 0, LiveAt: now.Add(-time.Minute), Spec: spec}, "Stages:    ✘20%  50%  100%"},
		{"NeverLive", sluice.Rollout{ID: "chat-3", Phase: sluice.PhaseRolledBack, StageIndex: 0, Spec: spec}, "Stages:     20%  50%  100%"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := renderRollout(api.RolloutStatus{Rollout: c.r, Policy: "specific v1"}, now)
			if !strings.Contains(out, c.stage) {
				t.Errorf("want %q in:\n%s", c.stage, out)
			}
		})
	}
}
