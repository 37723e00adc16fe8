package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_ActionsNameActor: an operator's pause, resume, promote,
// abort and undo went into the rollout's timeline (sluice rollout status,
// the dashboard) and its alerts without saying who asked, so with several
// operators on several replicas the rollout could not say who paused it
// (only the audit could); a pause without --reason ended its event in a
// dangling "; ", and the reason given to promote was dropped. Each now
// names its actor ("bob", the test's token) and carries the reason when
// there is one.
func TestController_ActionsNameActor(t *testing.T) {
	last := func(r sluice.Rollout) string { return r.Events[len(r.Events)-1].Message }
	t.Run("PauseResume", func(t *testing.T) {
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
		e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10})
		r := e.act(t, rollout.EvPause, "")
		if got, want := last(r), "paused by bob: traffic stays at 10% on the candidate"; got != want {
			t.Errorf("pause without a reason: event %q, want %q", got, want)
		}
		e.clock.Add(time.Second)
		r = e.act(t, rollout.EvResume, "dashboard checked")
		if got := last(r); !strings.HasPrefix(got, "resumed by bob;") || !strings.HasSuffix(got, "; dashboard checked") {
			t.Errorf("resume: event %q, want it to name bob and the reason", got)
		}
		r = e.act(t, rollout.EvPause, "lunch")
		if got, want := last(r), "paused by bob: traffic stays at 10% on the candidate; lunch"; got != want {
			t.Errorf("pause with a reason: event %q, want %q", got, want)
		}
	})
	t.Run("PromoteUndo", func(t *testing.T) {
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
		e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10})
		r := e.act(t, rollout.EvPromote, "metrics look good")
		if want := "promoted by bob: metrics look good"; r.Decision != want || last(r) != want {
			t.Errorf("promote: decision %q, event %q, want %q", r.Decision, last(r), want)
		}
		r = e.act(t, rollout.EvUndo, "support tickets")
		if !strings.HasPrefix(r.Decision, "undone by bob: ") || !strings.Contains(r.Decision, "support tickets") {
			t.Errorf("undo: decision %q, want it to name bob and the reason", r.Decision)
		}
	})
	t.Run("Abort", func(t *testing.T) {
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
		e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10})
		r := e.act(t, rollout.EvAbort, "wrong build")
		if want := "aborted by bob: wrong build"; r.Decision != want {
			t.Errorf("abort: decision %q, want %q", r.Decision, want)
		}
	})
}
