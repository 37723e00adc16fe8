package rollout_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
)

// What the user does: runs two replicas on one store; a shadow rollout of
// v2 mirrors live traffic to v2 on both; an operator aborts it through
// replica a.
// What must happen: replica b stops mirroring as soon as it sees the
// abort (the change notice and reload), not at its next controller tick:
// the fleet's drain can end, and the unload webhook free v2's server,
// within that tick, while b still sent it mirrored requests.
func TestShadowStopsWhenReplicaSeesRollback(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	replica := func(name string, sh *rvShadow, setup bool) (*control.Service, *rollout.Controller) {
		ctl, c := rvReplica(t, path, clock, name, setup, rollout.Options{Shadow: sh, InFlight: rvNoneInFlight})
		t.Cleanup(c.Wait)
		return ctl, c
	}
	var shA, shB rvShadow
	_, a := replica("a", &shA, true)
	ctlB, b := replica("b", &shB, false)
	if _, err := a.Start(ctx, "alice", "mirror v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyShadow, ShadowFraction: 0.5}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx) // the warm-up
	a.Wait()
	a.Step(ctx)
	if err := ctlB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	b.Step(ctx)
	if p := ctlB.Registry().Rollouts["chat"].Phase; p != sluice.PhaseShadow || shB.fraction() != 0.5 {
		t.Fatalf("phase %s, replica b mirrors %v: want the shadow phase mirroring half", p, shB.fraction())
	}
	if _, err := a.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	if err := ctlB.Reload(ctx); err != nil { // what b's change listener does on the notice
		t.Fatal(err)
	}
	if f := shB.fraction(); f != 0 {
		t.Fatalf("replica b still mirrors %v of chat to v2 after it saw the abort (until its next tick)", f)
	}
	if f := shA.fraction(); f != 0 {
		t.Fatalf("replica a still mirrors %v after its own abort", f)
	}
}
