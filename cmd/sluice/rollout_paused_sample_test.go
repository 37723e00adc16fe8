package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// What the user saw (trial, "Not fixed" 5): `sluice rollout status` of a
// paused rollout kept counting its Sample up while its Hold stood still,
// with nothing saying which of the two would move the stage on.
// What must happen: the sample counts on (the split still sends the
// candidate its share, and those requests are judged after the resume),
// and status says so plainly: the hold is frozen, no analysis runs and the
// stage does not advance until the rollout is resumed.
func TestRenderRollout_PausedSampleSaysSo(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 10, 0, 0, time.UTC)
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{{Percent: 20, Hold: sluice.Duration(10 * time.Minute), MinSamples: 200}, {Percent: 100}}}
	r := sluice.Rollout{ID: "chat-20261122-140000.000", Phase: sluice.PhasePaused, PausedFrom: sluice.PhaseProgressing,
		PausedAt: now.Add(-2 * time.Minute), HeldFor: sluice.Duration(4 * time.Minute), Percent: 20, Spec: spec,
		StageStartedAt: now.Add(-6 * time.Minute), LiveAt: now.Add(-6 * time.Minute)}
	st := api.RolloutStatus{Rollout: r, StageSamples: 143, StageNeed: 200}
	out := renderRollout(st, now)
	for _, want := range []string{
		"Hold:      4m0s of 10m0s\n",
		"143 of 200 split requests to the candidate at this stage (the stage's min_samples), counting on while paused\n",
		"Next:      paused: the hold stays at 4m0s of 10m0s and no analysis runs, so nothing promotes, advances or rolls it back until sluice rollout resume chat --reason \"…\" (sluice rollout abort chat --reason \"…\" rolls it back at once); the candidate keeps its 20% of the traffic meanwhile, and those requests count in the sample and are judged after the resume\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
	if got := api.WaitingFor(st, now); !strings.HasPrefix(got, "paused: the hold stays at 4m0s of 10m0s") {
		t.Errorf("the API's next (the dashboard's) = %q, want the same words", got)
	}
}
