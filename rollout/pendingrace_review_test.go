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

// What the user does: runs two replicas on one store. Through replica a,
// an operator starts a canary of v2 and aborts it shortly after (a long
// request to v2 is still in flight, so a's drain, unload webhook and
// alerts are pending: Unwinding owned by a). Replica b has not reloaded
// those two commits yet (its change notice is on its way, or was
// coalesced) when a CD job starts a rollout of v3 through b. (The same
// window exists in one process: an abort committing between Start's Check
// and its transaction.)
// What happens now: Start refuses a pending rollback only in Check, on b's
// stale registry, outside the transaction. b's commit conflicts, Do
// reloads and re-runs the step, and the step only refuses an *active*
// rollout: it replaces the aborted one and, with it, the pending record.
// "A new rollout cannot replace a pending rollback" (79ba7f1) does not
// hold: a's timings are dropped (the rollout moved on), and should a die
// mid-drain nobody ever unloads v2 or sends the abort's alert.
// What should happen: the start is refused (CodeConflict, "still being
// rolled back"), as when b's registry is current: the pending check must
// be made on the registry the transaction edits.
func TestStaleReplicaStartReplacesPendingRollback(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	release := make(chan struct{})
	newReplica := func(name string, inFlight func(string) int64, setup bool) (*control.Service, *rollout.Controller) {
		return rvReplica(t, path, clock, name, setup, rollout.Options{InFlight: inFlight, DrainTimeout: time.Hour}, rvV3)
	}
	_, a := newReplica("a", rvInFlightUntil(release), true)
	t.Cleanup(func() { close(release); a.Wait() })
	ctlB, b := newReplica("b", rvNoneInFlight, false)
	t.Cleanup(b.Wait)

	if _, err := a.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx) // warm-up
	a.Wait()
	a.Step(ctx)
	if _, err := a.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	if r := ctlB.Registry().Rollouts["chat"]; r != nil {
		t.Fatalf("setup: b already holds rollout %s", r.ID)
	}
	// b has not reloaded the start nor the abort when the new start reaches it.
	clock.Add(time.Second)
	_, err := b.Start(ctx, "ci", "ship v3", sluice.RolloutSpec{Model: "chat", Candidate: "v3", Strategy: sluice.StrategyCanary})
	cur := ctlB.Registry().Rollouts["chat"]
	if err == nil {
		t.Fatalf("b started rollout %s of v3 over the aborted v2 rollout whose drain, unload and alerts are still pending on a: the pending record is gone (now %+v)", cur.ID, cur.Unwinding)
	}
	if sluice.ErrorCode(err) != sluice.CodeConflict {
		t.Errorf("start refused with %v, want a conflict", err)
	}
	if cur.Spec.Candidate != "v2" || cur.Unwinding == nil {
		t.Errorf("the store's rollout of chat is %s (%s) with pending %+v: want v2's rollback still pending", cur.ID, cur.Spec.Candidate, cur.Unwinding)
	}
}
