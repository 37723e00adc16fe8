package sluice_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestSetStage_RetireInRolloutSuggestsAWorkingAbort: retiring a version
// a running rollout uses is refused, and the refusal suggests the abort.
// An abort needs a reason; the suggested command had none, so running it
// as printed was refused in turn.
func TestSetStage_RetireInRolloutSuggestsAWorkingAbort(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	e := sluice.NewRegistry().Edit("t", "setup", now)
	for _, v := range []sluice.Version{
		{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{"http://a"}},
		{Model: "chat", Version: "v2", Stage: sluice.StageStaging, Endpoints: []string{"http://b"}},
	} {
		if _, err := e.RegisterVersion(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.PutRollout(sluice.Rollout{ID: "chat-r1", Phase: sluice.PhaseProgressing, Percent: 10,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	e = e.Registry().Edit("t", "retire it", now.Add(time.Minute))
	err := e.SetStage("chat:v2", sluice.StageRetired, time.Time{})
	if err == nil || !strings.Contains(err.Error(), `sluice rollout abort chat --reason "…"`) {
		t.Fatalf("retiring the candidate of a running rollout: %v; want a refusal suggesting sluice rollout abort chat --reason \"…\"", err)
	}
}
