package rollout_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// What the user does: aborts a canary of chat:v2 while a long candidate
// request is still in flight (`sluice rollout abort chat`), fixes the
// analysis settings and starts the rollout of the same candidate again at
// once (`sluice rollout start chat --to v2`), with an unload webhook
// configured (rollouts.unload_webhook frees the candidate's GPUs).
// What happens now: the abort answers before its drain and unload (moved to
// the background today). The new rollout starts, warms and sends traffic to
// v2; then the old abort's drain ends and its unload webhook fires for
// chat:v2, which the new rollout is serving: the model server unloads the
// live candidate and the new canary fails (and is rolled back for it).
// Before, the abort returned only after its unload, so the CLI's two
// commands were ordered.
// What should happen: an abort's unload never reaches a version that a
// rollout started since is using (skip it, or let the new rollout start
// only once the previous one's drain and unload are done).
func TestAbortUnloadHitsRestartedCandidate(t *testing.T) {
	var inflight atomic.Int64
	type call struct {
		id     string
		active *sluice.Rollout
	}
	unloads := make(chan call, 4)
	var e *rvEnv
	e = newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		o.DrainTimeout = 60 * time.Second
		o.InFlight = func(id string) int64 {
			if id == "chat:v2" {
				return inflight.Load()
			}
			return 0
		}
		o.Unload = func(_ context.Context, v *sluice.Version) error {
			unloads <- call{id: v.ID(), active: e.ctl.Registry().ActiveRollout("chat")}
			return nil
		}
	})
	first := e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})

	inflight.Store(1) // a long candidate request
	done := make(chan error, 1)
	go func() {
		_, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvAbort, "wrong analysis settings")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("abort: %v", err)
		}
	case <-time.After(30 * time.Second):
		// The abort must answer before its drain (it did not before).
		inflight.Store(0)
		t.Fatal("the abort did not answer in 30 s: it waited for its drain")
	}

	// Start again at once, as a script or an operator does.
	e.clock.Add(time.Second)
	if _, err := e.c.Start(e.ctx, "alice", "again with fixed settings", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		inflight.Store(0)
		if sluice.ErrorCode(err) == sluice.CodeConflict && strings.Contains(err.Error(), "still being rolled back") {
			return // refused until the drain and the unload are done: fine
		}
		t.Fatalf("restart the rollout: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.ctl.Registry().ActiveRollout("chat")
		if r != nil && r.ID != first.ID && r.Phase != sluice.PhaseWarming {
			break
		}
		if time.Now().After(deadline) {
			inflight.Store(0)
			t.Fatalf("the new rollout did not go live: %+v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The long request of the first canary ends: the abort's drain ends.
	inflight.Store(0)
	select {
	case c := <-unloads:
		if c.active != nil && c.active.Spec.Candidate == "v2" && c.id == "chat:v2" {
			t.Errorf("the aborted rollout's unload webhook was called for %s after rollout %s of the same candidate went live (phase %s, %s%% of traffic): the new canary's candidate is unloaded under it",
				c.id, c.active.ID, c.active.Phase, sluice.FormatPercent(c.active.Percent))
		}
	case <-time.After(30 * time.Second):
		// No unload at all once a new rollout uses the candidate: fixed.
	}
	e.c.Wait()
}
