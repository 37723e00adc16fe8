package rollout_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// reviewLostAckStore commits, then reports failure, when armed: a
// PostgreSQL commit whose outcome is unknown (the connection died after
// COMMIT was sent), which the store reports as an error and never resends.
type reviewLostAckStore struct {
	sluice.Store
	loseNext atomic.Bool
}

func (s *reviewLostAckStore) Commit(ctx context.Context, c sluice.Change) (int64, error) {
	rev, err := s.Store.Commit(ctx, c)
	if err == nil && s.loseNext.CompareAndSwap(true, false) {
		return 0, errors.New("commit outcome unknown: connection lost after COMMIT was sent (injected)")
	}
	return rev, err
}

// What the user does: aborts a canary of v2 on a gateway whose store
// connection drops right after the COMMIT (PostgreSQL reports "outcome
// unknown", HOUSE.md). The abort did commit: the routing is back on v1
// and the rollout records its side effects as pending, owned by this
// (live) replica. The gateway reloads the registry (its change notice, or
// the next reconcile) and ticks on.
// What happens now: the transition returned an error, so no drain, no
// unload webhook and no alert ran, and nothing counted them as under way;
// after OrphanAfter, clearOwnUnwinds takes "owned by me and not busy" for
// "done", clears the record and writes "the rollback's drain and unload
// were done" on the timeline. The leader never resumes it (the owner is
// alive). v2's unload webhook is never called (its GPUs stay allocated)
// and the abort's alert is never sent, while the timeline says otherwise.
// What should happen: a pending rollback this process is not working on
// is completed (drain, unload, alerts: resumed like an orphan's), not
// just cleared.
func TestUnknownCommitOutcomeRollbackClearedWithoutUnload(t *testing.T) {
	ctx := context.Background()
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	st := &reviewLostAckStore{Store: rvStore(t, filepath.Join(t.TempDir(), "s.db"))}
	ctl := rvChat(t, st, clock.Now, true)
	var fx sideEffects
	c := rvController(rollout.Options{Control: ctl, Now: clock.Now, Unload: fx.Unload, Alerts: &fx, InFlight: rvNoneInFlight})
	t.Cleanup(c.Wait)
	if _, err := c.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	c.Step(ctx)
	c.Wait()
	st.loseNext.Store(true)
	if _, err := c.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err == nil {
		t.Fatal("setup: the abort's lost acknowledgement was not reported")
	}
	c.Wait()
	if err := ctl.Reload(ctx); err != nil { // the change notice of its own commit
		t.Fatal(err)
	}
	if r := ctl.Registry().Rollouts["chat"]; r.Phase.Active() || r.Unwinding == nil {
		t.Fatalf("setup: after the reload the rollout is %s with pending %+v, want aborted with side effects pending", r.Phase, r.Unwinding)
	}
	for range 3 {
		clock.Add(time.Minute)
		c.Step(ctx)
		c.Wait()
	}
	r := ctl.Registry().Rollouts["chat"]
	unloads, alerts := fx.counts()
	if unloads != 1 || alerts == 0 {
		last := ""
		if n := len(r.Events); n > 0 {
			last = r.Events[n-1].Kind + ": " + r.Events[n-1].Message
		}
		t.Errorf("3 minutes after the abort committed: %d unload webhook call(s), %d alert(s), pending %+v, last timeline event %q: want v2 unloaded once and the abort alerted", unloads, alerts, r.Unwinding, last)
	}
}
