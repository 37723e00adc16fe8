package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// What the user sees: "Sample: 34 of 100 candidate requests" and right
// under it "Verdict: INCONCLUSIVE (baseline n=18, candidate n=9)
// collecting data: 9 of 100 candidate requests": two counts of one thing
// that disagree. The verdict is the last analysis, taken every
// analysis.interval; the sample is live.
// What must happen: the verdict line says when it was taken, and, while
// the rollout runs, how long ago.
func TestRenderRollout_VerdictSaysWhenItWasTaken(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 7, 0, time.UTC)
	v := sluice.Verdict{At: now.Add(-7 * time.Second), Outcome: sluice.OutcomeInconclusive, Reason: "collecting data: 9 of 100 candidate requests", BaselineN: 18, CandidateN: 9}
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}
	live := api.RolloutStatus{Rollout: sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 10, Spec: spec}, Verdict: &v, StageSamples: 34, StageNeed: 100}
	if out := renderRollout(live, now); !strings.Contains(out, "Verdict:   INCONCLUSIVE (baseline n=18, candidate n=9) at 14:00:00 (7s ago): collecting data") {
		t.Errorf("a live rollout's verdict does not say when it was taken:\n%s", out)
	}
	ended := live
	ended.Rollout.Phase = sluice.PhaseAborted
	if out := renderRollout(ended, now.Add(time.Hour)); !strings.Contains(out, "(baseline n=18, candidate n=9) at 14:00:00: collecting data") || strings.Contains(out, " ago)") {
		t.Errorf("an ended rollout's verdict: want its time and no age:\n%s", out)
	}
}
