package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// What the user sees: a gateway restarted mid-rollout reads the rollout's
// requests back in the background and does not analyse it meanwhile; the
// API's status says so (seeding, next), but `sluice rollout status` made
// its Next line again from the rollout alone and said a canary waits for
// an operator's promote, as if nothing held it.
// What must happen: the Next line says the requests are being read back.
func TestRenderRollout_SaysItIsSeeding(t *testing.T) {
	now := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 1,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}}
	out := renderRollout(api.RolloutStatus{Rollout: r, Policy: "split", StageSamples: 34, StageNeed: 100, Seeding: true}, now)
	var next string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Next:") {
			next = l
		}
	}
	if !strings.Contains(next, "reading the rollout's requests back from the request log") {
		t.Errorf("Next line %q, want it to say the requests are being read back\n%s", next, out)
	}
}
