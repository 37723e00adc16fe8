package rollout_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// reviewAlerts records alerts.
type reviewAlerts struct {
	mu  sync.Mutex
	got []rollout.Alert
	ch  chan rollout.Alert
}

func (a *reviewAlerts) Alert(_ context.Context, al rollout.Alert) {
	a.mu.Lock()
	a.got = append(a.got, al)
	a.mu.Unlock()
	if a.ch != nil {
		a.ch <- al
	}
}

// What the user does: aborts a canary of chat:v2 (`sluice rollout abort`)
// with an unload webhook configured that takes a few seconds to free the
// GPUs (a model server's unload is slow), and at once starts the rollout of
// the same candidate again (`sluice rollout start chat --to v2`), as a
// script does after fixing the analysis settings.
// What happens now: the abort answers before its unload (moved to the
// background today). The unload webhook is already under way when the new
// rollout starts; the skip added for a newer rollout of the same candidate
// is checked only before the call, so the new rollout warms up the
// candidate that is being unloaded and sends it live traffic, and then the
// unload completes: the live canary's candidate is gone under it.
// What should happen: a new rollout of a candidate whose unload is still
// running does not go live before that unload has finished (refuse the
// start with a conflict, or hold the warm-up until the unload is done and
// warm the candidate afterwards).
func TestRestartDuringUnloadGoesLiveOnUnloadingCandidate(t *testing.T) {
	entered := make(chan string, 4)
	release := make(chan struct{})
	var unloading atomic.Bool
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		o.Unload = func(_ context.Context, v *sluice.Version) error {
			unloading.Store(true)
			entered <- v.ID()
			<-release // the model server frees the GPUs
			unloading.Store(false)
			return nil
		}
	})
	var once sync.Once
	releaseAll := func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() { releaseAll(); e.c.Wait() })

	first := e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	if _, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvAbort, "wrong analysis settings"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	select {
	case id := <-entered:
		if id != "chat:v2" {
			t.Fatalf("unload of %s, want chat:v2", id)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the abort's unload was not called in 30 s")
	}

	// The unload of chat:v2 is under way; start the same candidate again.
	e.clock.Add(time.Second)
	startErr := make(chan error, 1)
	go func() {
		_, err := e.c.Start(e.ctx, "alice", "again with fixed settings", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary})
		startErr <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-startErr:
			if err != nil {
				if sluice.ErrorCode(err) == sluice.CodeConflict {
					return // refused while the unload runs: fine
				}
				t.Fatalf("restart: %v", err)
			}
			startErr = nil
		default:
		}
		r := e.ctl.Registry().ActiveRollout("chat")
		if r != nil && r.ID != first.ID && r.Phase == sluice.PhaseProgressing && unloading.Load() {
			t.Fatalf("rollout %s of chat:v2 went live (%s%% of traffic) while the previous abort's unload webhook for chat:v2 was still running: the unload completes after the new canary takes traffic, leaving it on an unloaded candidate",
				r.ID, sluice.FormatPercent(r.Percent))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// What the user does: aborts a canary of chat:v2 while one long candidate
// request is in flight, and at once starts the rollout of v2 again; the
// new canary sends its share of traffic to v2, so v2 always has requests
// in flight. The alert webhook pages the on-call with the abort.
// What happens now: the old abort's background drain counts the new
// rollout's requests as its own (it polls the version's in-flight count
// until it is 0), so it never sees 0: the abort's alert is held back for
// the whole drain timeout and reports a drain of that length
// (timings.drain_ms = the timeout) that the aborted rollout never had.
// What should happen: the drain of a rollback ends once a newer rollout
// serves the candidate (as its unload is skipped then), and the alert goes
// out then with the time actually spent.
func TestOldDrainCountsNewRolloutsTraffic(t *testing.T) {
	var inflight atomic.Int64
	al := &reviewAlerts{ch: make(chan rollout.Alert, 8)}
	const drainTimeout = 20 * time.Second
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		o.DrainTimeout = drainTimeout
		o.Alerts = al
		o.InFlight = func(id string) int64 {
			if id == "chat:v2" {
				return inflight.Load()
			}
			return 0
		}
	})
	t.Cleanup(func() { inflight.Store(0); e.c.Wait() })
	first := e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	inflight.Store(1) // the first canary's long request
	if _, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvAbort, "wrong analysis settings"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	e.clock.Add(time.Second)
	if _, err := e.c.Start(e.ctx, "alice", "again", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		if sluice.ErrorCode(err) == sluice.CodeConflict && strings.Contains(err.Error(), "still being rolled back") {
			return // refused until the old drain is done: its drain cannot count new traffic
		}
		t.Fatalf("restart: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := e.ctl.Registry().ActiveRollout("chat")
		if r != nil && r.ID != first.ID && r.Phase == sluice.PhaseProgressing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new rollout did not go live: %+v", r)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The first canary's request ends; the new canary's requests keep one
	// request in flight to v2 from now on.
	aborted := time.Now()
	inflight.Store(1)
	for {
		select {
		case a := <-al.ch:
			if a.Rollout != first.ID {
				continue
			}
			waited := time.Since(aborted)
			drain, _ := a.Timings["drain_ms"].(float64)
			if drain >= float64(drainTimeout/time.Millisecond)/2 {
				t.Errorf("the abort of %s alerted after %s with timings.drain_ms=%.0f (the drain timeout is %s): its drain waited on the requests of rollout of the same candidate started after it", first.ID, waited.Round(time.Millisecond), drain, drainTimeout)
			}
			return
		case <-time.After(2 * drainTimeout):
			t.Fatal("no alert for the abort")
		}
	}
}
