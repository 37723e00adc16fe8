package rollout_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
)

type reviewLead struct{ on atomic.Bool }

func (l *reviewLead) Leading() bool { return l.on.Load() }

// reviewActiveWarmer counts the warm-ups running now; each holds until
// gate closes or its context ends.
type reviewActiveWarmer struct {
	started, active atomic.Int32
	gate            chan struct{}
}

func (w *reviewActiveWarmer) Warm(ctx context.Context, _ *sluice.Version, _ sluice.WarmupSpec) error {
	w.started.Add(1)
	w.active.Add(1)
	defer w.active.Add(-1)
	select {
	case <-w.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// What the user does: runs two replicas on PostgreSQL; a rollout of v2 is
// warming on the leader a (a long warm-up: a model server loading weights,
// up to 5 minutes), when a loses the leadership (its session to the store
// blipped) and b is elected.
// What happens now: b's first tick sees a warming rollout it is not
// warming and launches a warm-up; a, no longer leading, keeps its own:
// its ticks cancel a warm-up only when the registry stops showing the
// rollout warming. The candidate gets both replicas' warm-up requests at
// once, for as long as the warm-up lasts, and one result is thrown away
// (the fault TestWarmupRunsOnLeaderAndOperatorReplica fixed for a start
// through a follower, back through a failover).
// What should happen: a replica that no longer leads stops its warm-ups at
// its next tick (the leader resumes them), so one warm-up runs.
func TestWarmupKeepsRunningOnReplicaThatLostLeadership(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	w := &reviewActiveWarmer{gate: make(chan struct{})}
	var leadA, leadB reviewLead
	leadA.on.Store(true)
	replica := func(name string, lead *reviewLead, setup bool) (*control.Service, *rollout.Controller) {
		return rvReplica(t, path, nil, name, setup, rollout.Options{Warmer: w, Leader: lead})
	}
	_, a := replica("a", &leadA, true)
	ctlB, b := replica("b", &leadB, false)
	t.Cleanup(func() {
		close(w.gate)
		a.Wait()
		b.Wait()
	})
	if _, err := a.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) bool {
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Logf("gave up waiting for %s", what)
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
		return true
	}
	if !waitFor("a's warm-up", func() bool { return w.started.Load() == 1 }) {
		t.Fatal("setup: the leader a did not warm")
	}
	// Failover: a no longer leads, b does.
	leadA.on.Store(false)
	leadB.on.Store(true)
	if err := ctlB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	b.Step(ctx)
	if !waitFor("b's warm-up", func() bool { return w.started.Load() == 2 }) {
		t.Fatal("setup: the new leader b did not resume the warm-up")
	}
	for range 3 {
		a.Step(ctx) // a's ticks as a follower
		b.Step(ctx)
	}
	if !waitFor("a single warm-up", func() bool { return w.active.Load() <= 1 }) {
		t.Errorf("after the failover and 3 ticks of each replica, %d warm-ups of v2 run at once (the old leader's was never stopped)", w.active.Load())
	}
}
