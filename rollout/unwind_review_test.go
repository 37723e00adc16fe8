package rollout_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
)

// reviewFlakyStore is a store whose next Commit fails (a disk error, a
// PostgreSQL failover, a commit whose outcome is unknown) when armed.
type reviewFlakyStore struct {
	sluice.Store
	failNext atomic.Bool
	failMore atomic.Int32 // the next failMore commits fail
}

func (s *reviewFlakyStore) Commit(ctx context.Context, c sluice.Change) (int64, error) {
	if s.failNext.CompareAndSwap(true, false) || s.failMore.Add(-1) >= 0 {
		return 0, errors.New("disk I/O error (injected)")
	}
	s.failMore.Store(0)
	return s.Store.Commit(ctx, c)
}

// abortedCanary is one gateway on a store that fails commits when told
// to, with a canary of v2 aborted: its drain waits until release is
// closed, so a test can arm failures for the writes that follow it.
type abortedCanary struct {
	ctx     context.Context
	clock   *rvClock
	st      *reviewFlakyStore
	ctl     *control.Service
	c       *rollout.Controller
	fx      sideEffects
	release chan struct{}
}

func newAbortedCanary(t *testing.T) *abortedCanary {
	t.Helper()
	r := &abortedCanary{ctx: context.Background(), clock: &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}, release: make(chan struct{})}
	r.st = &reviewFlakyStore{Store: rvStore(t, filepath.Join(t.TempDir(), "s.db"))}
	r.ctl = rvChat(t, r.st, r.clock.Now, true)
	r.c = rvController(rollout.Options{Control: r.ctl, Now: r.clock.Now,
		Unload: r.fx.Unload, Alerts: &r.fx, InFlight: rvInFlightUntil(r.release), DrainTimeout: time.Hour})
	t.Cleanup(r.c.Wait)
	if _, err := r.c.Start(r.ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	r.c.Step(r.ctx)
	r.c.Wait()
	if _, err := r.c.Act(r.ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	return r
}

// What the user does: runs one gateway (SQLite, the single-replica setup)
// and aborts a canary of v2; the write that records the rollback's timings
// and clears its pending side effects fails once (a transient disk error;
// on PostgreSQL a commit whose outcome is unknown, which is never resent).
// What happens now: nothing ever retries that write. Unwinding stays set
// with this live process as its owner, resumeUnwinds skips it for ever
// (the owner is this process), and every later "sluice rollout start chat
// --to v2" is refused with "still being rolled back ... start the rollout
// again in a few seconds", even an hour later, until the gateway restarts.
// What should happen: the pending record is cleared (the write retried at
// a later tick), so v2 can be rolled out again.
func TestUnwindClearFailureBlocksCandidateForever(t *testing.T) {
	r := newAbortedCanary(t)
	ctx, clock, st, ctl, c, fx, release := r.ctx, r.clock, r.st, r.ctl, r.c, &r.fx, r.release
	// The drain is under way; the write after it (the timings) fails once.
	st.failNext.Store(true)
	close(release)
	c.Wait()
	if u, _ := fx.counts(); u != 1 {
		t.Fatalf("%d unload(s) after the abort, want 1", u)
	}
	// Much later, with every later commit working, the gateway ticks on.
	for range 5 {
		clock.Add(time.Minute)
		c.Step(ctx)
		c.Wait()
	}
	if r := ctl.Registry().Rollouts["chat"]; r.Unwinding != nil {
		t.Errorf("an hour-ish after the abort the rollout is still pending on its live owner: %+v", *r.Unwinding)
	}
	if _, err := c.Start(ctx, "alice", "ship v2 again", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Errorf("a new rollout of v2 minutes after its rollback finished: %v", err)
	}
}

// What the user does: on a fleet (two replicas on one store), aborts a
// canary of v2 through replica a, which dies (OOM, SIGKILL) while it
// drains, before its unload webhook. Meanwhile an operator starts a rollout
// of another candidate, v3, through replica b (the leader): Check refuses
// only a rollout of the same candidate.
// What happens now: the new rollout replaces the aborted one in the
// registry, and with it the pending record of v2's side effects; the leader
// only looks at the registry's current rollouts, so v2's unload webhook
// (the GPU memory the candidate holds) and the abort's alert are never
// done by anyone.
// What should happen: the pending side effects of the dead replica's
// rollback survive the next rollout (or that rollout is refused until they
// are done): the leader unloads v2 once a has been gone for OrphanAfter.
func TestPendingUnwindLostWhenOtherCandidateStarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	dying := make(chan struct{})
	newController := func(name string, fx *sideEffects, inFlight func(string) int64, setup bool) (*control.Service, *rollout.Controller) {
		return rvReplica(t, path, clock, name, setup, rollout.Options{Unload: fx.Unload, Alerts: fx, InFlight: inFlight, DrainTimeout: time.Hour}, rvV3)
	}
	var fxA, fxB sideEffects
	_, a := newController("a", &fxA, rvInFlightUntil(dying), true)
	t.Cleanup(func() { close(dying); a.Wait() })
	ctlB, b := newController("b", &fxB, rvNoneInFlight, false)

	if _, err := a.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx)
	if _, err := a.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	// a is now dead mid-drain.
	if err := ctlB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r := ctlB.Registry().Rollouts["chat"]; r == nil || r.Unwinding == nil || r.Unwinding.Owner != "a" {
		t.Fatalf("after the abort the store holds %+v, want v2's unload pending on a", r)
	}
	clock.Add(time.Second)
	if _, err := b.Start(ctx, "carol", "ship v3", sluice.RolloutSpec{Model: "chat", Candidate: "v3", Strategy: sluice.StrategyCanary}); err != nil {
		// Refusing it until v2's side effects are done is a fix too.
		t.Logf("the rollout of v3 was refused while v2's unload is pending: %v", err)
	}
	for range 3 {
		clock.Add(11 * time.Second)
		b.Step(ctx)
		b.Wait()
	}
	fxB.mu.Lock()
	unloads := append([]string(nil), fxB.unloads...)
	fxB.mu.Unlock()
	found := false
	for _, u := range unloads {
		if u == "chat:v2" {
			found = true
		}
	}
	if !found {
		t.Errorf("33 s after a died mid-drain the leader's unload webhook calls are %v: v2's unload (and the abort's alert) were lost when the v3 rollout replaced the aborted one", unloads)
	}
}

// What the user does: as above, but the store refuses every write for a
// few seconds after the abort (each try at recording the timings fails).
// What must happen: the record is cleared at a later tick, once
// OrphanAfter has passed, by the process that owns it (the leader skips a
// live owner's records), so v2 may be rolled out again.
func TestUnwindClearedByOwnerAfterRetriesFail(t *testing.T) {
	r := newAbortedCanary(t)
	ctx, clock, st, ctl, c, release := r.ctx, r.clock, r.st, r.ctl, r.c, r.release
	// The drain is under way; the three tries of the write after it fail.
	st.failMore.Store(3)
	close(release)
	c.Wait()
	if r := ctl.Registry().Rollouts["chat"]; r.Unwinding == nil {
		t.Fatalf("the record was cleared although every try failed")
	}
	clock.Add(time.Minute)
	c.Step(ctx)
	c.Wait()
	if r := ctl.Registry().Rollouts["chat"]; r.Unwinding != nil {
		t.Fatalf("a minute after the abort the record is still pending on its live owner, which is done with it: %+v", *r.Unwinding)
	}
	if _, err := c.Start(ctx, "alice", "ship v2 again", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Errorf("a new rollout of v2 after its rollback completed: %v", err)
	}
}
