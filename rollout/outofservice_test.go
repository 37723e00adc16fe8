package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestNext_OutOfService: a live rollout whose candidate left the splits
// (ejected, unhealthy) rolls back with the reason; a warming, paused or
// ended one is left alone.
func TestNext_OutOfService(t *testing.T) {
	spec := sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{{Percent: 10, Hold: sluice.Duration(time.Minute)}, {Percent: 100}}}
	ev := Event{Kind: EvOutOfService, Message: "ejected by outlier detection: 5 failed requests in a row"}
	t.Run("LiveRollsBack", func(t *testing.T) {
		r, _ := must(t, mustStart(t, spec), t0, Event{Kind: EvWarmed})
		r, acts := must(t, r, t0.Add(time.Second), ev)
		if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, "candidate ejected by outlier detection") {
			t.Fatalf("phase %s decision %q", r.Phase, r.Decision)
		}
		for _, k := range []ActionKind{ActRestore, ActDrain, ActUnload, ActAlert} {
			if !hasAction(acts, k) {
				t.Errorf("no %s action", k)
			}
		}
	})
	for name, setup := range map[string]func() sluice.Rollout{
		"Warming": func() sluice.Rollout { return mustStart(t, spec) },
		"Paused": func() sluice.Rollout {
			r, _ := must(t, mustStart(t, spec), t0, Event{Kind: EvWarmed})
			r, _ = must(t, r, t0, Event{Kind: EvPause})
			return r
		},
		"Ended": func() sluice.Rollout {
			r, _ := must(t, mustStart(t, spec), t0, Event{Kind: EvWarmed})
			r, _ = must(t, r, t0, Event{Kind: EvAbort, Message: "no"})
			return r
		},
	} {
		t.Run(name+"Unchanged", func(t *testing.T) {
			r := setup()
			next, acts := must(t, r, t0.Add(time.Second), ev)
			if next.Phase != r.Phase || len(acts) != 0 {
				t.Errorf("phase %s → %s, actions %v", r.Phase, next.Phase, acts)
			}
		})
	}
}

// TestNext_OutOfServiceInAPausedBake: a pause holds a bake's analysis, but
// after the promotion the candidate takes all traffic, which no split
// routes around it any more: a candidate out of service is rolled back
// even while its bake is paused (a paused stage is not, its split sending
// the candidate's share to the baseline meanwhile).
func TestNext_OutOfServiceInAPausedBake(t *testing.T) {
	r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(10 * time.Minute)})
	r, _ = must(t, r, t0, Event{Kind: EvWarmed})
	r, _ = must(t, r, t0, Event{Kind: EvPromote, Actor: "alice", Message: "looks good"})
	r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvPause, Actor: "bob", Message: "load test"})
	if r.Phase != sluice.PhasePaused || !r.InBake() {
		t.Fatalf("phase %s, in bake %v: want a paused bake", r.Phase, r.InBake())
	}
	r, acts := must(t, r, t0.Add(2*time.Minute), Event{Kind: EvOutOfService, Message: "failing health checks"})
	if r.Phase != sluice.PhaseRolledBack || !hasAction(acts, ActRestore) || !hasAction(acts, ActAlert) {
		t.Fatalf("phase %s, actions %v: want rolled back, its routing restored", r.Phase, acts)
	}
}
