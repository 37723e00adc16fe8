package rollout_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
)

// What the user does: aborts a canary of v2 through replica a, then at
// once starts a rollout of v3 through replica b, whose change notice has
// not arrived yet.
// What must happen: the rollout starts (the abort is done and its
// rollback complete). Before, b refused it from its stale registry with
// "already has rollout ... in phase progressing: abort it", telling the
// user to abort a rollout that had already ended.
func TestStartOnReplicaBehindTheStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	replica := func(name string, setup bool) (*control.Service, *rollout.Controller) {
		ctl, c := rvReplica(t, path, clock, name, setup, rollout.Options{InFlight: rvNoneInFlight}, rvV3)
		t.Cleanup(c.Wait)
		return ctl, c
	}
	_, a := replica("a", true)
	ctlB, b := replica("b", false)
	if _, err := a.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx)
	a.Wait()
	if err := ctlB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if p := ctlB.Registry().Rollouts["chat"].Phase; !p.Active() {
		t.Fatalf("setup: b sees phase %s, want the live canary", p)
	}
	if _, err := a.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	a.Wait() // the drain (nothing in flight) and the timings: the rollback is complete
	clock.Add(time.Second)
	r, err := b.Start(ctx, "carol", "ship v3", sluice.RolloutSpec{Model: "chat", Candidate: "v3", Strategy: sluice.StrategyCanary})
	if err != nil {
		if strings.Contains(err.Error(), "abort it") {
			t.Fatalf("b, behind the store, told the user to abort an ended rollout: %v", err)
		}
		t.Fatalf("start v3 through b: %v", err)
	}
	if r.Spec.Candidate != "v3" {
		t.Fatalf("started %+v", r.Spec)
	}
}
