package rollout_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_StartHoldsDrillLockUntilCommitted: on a shared store a
// rollout's start looked at the fleet-wide drill lock (Options.Hold) and let
// it go before its own transaction: a drill through another replica could
// take the lock and commit its canary in between, and the rollout then
// recorded that canary as the routing to restore (the overlap the lock is
// there to prevent). The start now keeps the lock until its transaction has
// committed, so a drill either comes first (the start is refused) or sees
// the rollout in its own transaction.
func TestController_StartHoldsDrillLockUntilCommitted(t *testing.T) {
	var (
		mu    sync.Mutex
		held  bool
		names []string
		first *bool // held when the rollout's commit was first seen
	)
	hold := func(_ context.Context, name string) (func(), bool, error) {
		mu.Lock()
		defer mu.Unlock()
		if held {
			return nil, false, nil
		}
		held = true
		names = append(names, name)
		return func() { mu.Lock(); held = false; mu.Unlock() }, true, nil
	}
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) { o.Hold = hold })
	// Whether the drill lock is held when the rollout's commit is
	// published: a drill elsewhere could have committed in between if not.
	e.ctl.Subscribe(func(reg *sluice.Registry) {
		if r := reg.Rollouts["chat"]; r != nil && r.Phase.Active() {
			mu.Lock()
			if first == nil {
				h := held
				first = &h
			}
			mu.Unlock()
		}
	})
	e.startLive(t, sluice.RolloutSpec{})
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 1 || names[0] != "drill:chat" {
		t.Fatalf("locks taken = %v, want drill:chat once", names)
	}
	if first == nil || !*first {
		t.Errorf("the rollout was committed after the drill lock was let go: a drill through another replica could slip in between")
	}
	if held {
		t.Errorf("the drill lock is still held after the start returned")
	}
}

// TestController_StartWaitsOutAnotherStart: holding the drill lock to its
// commit, a start through another replica keeps it for milliseconds; a
// start meanwhile waits that out instead of answering that a drill is
// under way. A lock held longer (a drill) is still refused, as 409.
func TestController_StartWaitsOutAnotherStart(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		var mu sync.Mutex
		busy := 2 // the other replica's start lets go after two tries
		hold := func(context.Context, string) (func(), bool, error) {
			mu.Lock()
			defer mu.Unlock()
			if busy > 0 {
				busy--
				return nil, false, nil
			}
			return func() {}, true, nil
		}
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) { o.Hold = hold })
		e.startLive(t, sluice.RolloutSpec{})
	})
	t.Run("ErrDrillElsewhere", func(t *testing.T) {
		hold := func(context.Context, string) (func(), bool, error) { return nil, false, nil }
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) { o.Hold = hold })
		_, err := e.c.Start(e.ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2"})
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(sluice.ErrorMessage(err), "fire drill") {
			t.Fatalf("start while a drill holds the lock: %v, want a conflict naming the drill", err)
		}
	})
}
