package rollout

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
)

// TestNext_LeavingPauseClearsPausedAt: a rollout that leaves the paused
// state by any path (promoted, its bake ended, undone, aborted, concluded,
// rolled back because its candidate went out of service) keeps no pause:
// PausedAt and PausedFrom are cleared, and its JSON (what the admin API
// and `sluice rollout status --json` show) has no paused_at. Before, only
// a resume cleared PausedAt, so a rollout promoted while paused showed
// "paused_at" for ever.
func TestNext_LeavingPauseClearsPausedAt(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	pausedIn := func(t *testing.T, spec sluice.RolloutSpec) sluice.Rollout {
		t.Helper()
		r := mustStart(t, spec)
		r, _ = must(t, r, at(0), Event{Kind: EvWarmed})
		if spec.Bake.D() > 0 {
			r, _ = must(t, r, at(1), Event{Kind: EvPromote, Actor: "alice"})
			if r.Phase != sluice.PhaseBaking {
				t.Fatalf("promoted with a bake: phase %s", r.Phase)
			}
		}
		r, _ = must(t, r, at(2), Event{Kind: EvPause, Actor: "carol", Message: "lunch"})
		if r.Phase != sluice.PhasePaused || r.PausedAt.IsZero() {
			t.Fatalf("paused: phase %s paused at %v", r.Phase, r.PausedAt)
		}
		return r
	}
	canary := sluice.RolloutSpec{Strategy: sluice.StrategyCanary}
	baking := sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(time.Hour)}
	shadow := sluice.RolloutSpec{Strategy: sluice.StrategyShadow}
	ab := sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 1000}
	cases := []struct {
		name  string
		spec  sluice.RolloutSpec
		ev    Event
		phase sluice.Phase
	}{
		{"Promote", canary, Event{Kind: EvPromote, Actor: "alice"}, sluice.PhasePromoted},
		{"PromoteShadow", shadow, Event{Kind: EvPromote, Actor: "alice"}, sluice.PhasePromoted},
		{"PromoteIntoBake", baking, Event{Kind: EvPromote, Actor: "alice"}, sluice.PhasePromoted}, // paused in the bake: ends it
		{"Abort", canary, Event{Kind: EvAbort, Actor: "alice", Message: "no"}, sluice.PhaseAborted},
		{"AbortBake", baking, Event{Kind: EvAbort, Actor: "alice", Message: "no"}, sluice.PhaseAborted},
		{"UndoBake", baking, Event{Kind: EvUndo, Actor: "alice", Message: "no"}, sluice.PhaseUndone},
		{"OutOfServiceInBake", baking, Event{Kind: EvOutOfService, Message: "is unhealthy"}, sluice.PhaseRolledBack},
		{"ConcludeBaseline", ab, Event{Kind: EvConclude, Pick: PickBaseline, Message: "budget", Report: &analysis.Report{Winner: "no difference"}}, sluice.PhaseAborted},
		{"ConcludeCandidate", ab, Event{Kind: EvConclude, Pick: PickCandidate, Message: "ship", Report: &analysis.Report{Winner: "candidate"}}, sluice.PhasePromoted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := pausedIn(t, c.spec)
			r, _ = must(t, r, at(3), c.ev)
			if r.Phase != c.phase {
				t.Fatalf("phase %s, want %s", r.Phase, c.phase)
			}
			if !r.PausedAt.IsZero() || r.PausedFrom != "" {
				t.Errorf("%s from paused: paused at %v, from %q; want neither", c.phase, r.PausedAt, r.PausedFrom)
			}
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), `"paused_at"`) || strings.Contains(string(b), `"paused_from"`) {
				t.Errorf("%s rollout's JSON still shows a pause: %s", c.phase, b)
			}
		})
	}
}
