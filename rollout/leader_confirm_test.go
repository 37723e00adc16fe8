package rollout_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/rollout"
)

// recordedAlerts keeps the alerts one controller sent.
type recordedAlerts struct {
	mu  sync.Mutex
	got []rollout.Alert
}

func (a *recordedAlerts) Alert(_ context.Context, al rollout.Alert) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.got = append(a.got, al)
}

func (a *recordedAlerts) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

// countingWarmer counts the warm-ups one controller started.
type countingWarmer struct{ n atomic.Int32 }

func (w *countingWarmer) Warm(context.Context, *sluice.Version, sluice.WarmupSpec) error {
	w.n.Add(1)
	return nil
}

// fencedReplica is one replica of the fleet in TestController_StaleLeader:
// its own store, control service, election and controller.
type fencedReplica struct {
	ctl    *control.Service
	c      *rollout.Controller
	leader *postgres.Leader
	alerts *recordedAlerts
	warmer *countingWarmer
}

// newFencedReplica opens a replica on dsn whose election checks its lock
// every interval, and starts the election.
func newFencedReplica(t *testing.T, dsn string, interval time.Duration) *fencedReplica {
	t.Helper()
	st, ctl := pgControl(t, dsn, 0)
	r := &fencedReplica{ctl: ctl, leader: st.NewLeader(postgres.LeaderOptions{Interval: interval}), alerts: &recordedAlerts{}, warmer: &countingWarmer{}}
	r.c = rollout.New(rollout.Options{Control: ctl, Windows: busyWindows{}, Warmer: r.warmer, Alerts: r.alerts, Leader: r.leader})
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.leader.Run(lctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; r.c.Wait() })
	return r
}

// waitUntil polls ok for up to 10 s.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// terminateLeaderSession ends, on the server, the session that holds the
// schema's controller lock, as an administrator, a failover proxy or the
// server's idle timeout would.
func terminateLeaderSession(t *testing.T, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted
		AND ((classid::bigint << 32) | objid::bigint) = hashtextextended('sluice:leader:controller:' || current_schema(), 0)`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("terminated %d sessions holding the controller lock, want 1", n)
	}
}

// staleFleet returns two replicas on one schema: a leads, and checks its
// lock only every 30 s, so that once its session is ended it goes on
// saying it leads (Leading) for the rest of the test, as a leader does for
// up to an interval; b tries for the lock every 20 ms.
func staleFleet(t *testing.T) (a, b *fencedReplica, dsn string) {
	dsn = pgtest.Schema(t)
	a = newFencedReplica(t, dsn, 30*time.Second)
	waitUntil(t, "a to lead", a.leader.Leading)
	b = newFencedReplica(t, dsn, 20*time.Millisecond)
	setupModels(t, a.ctl, "chat")
	if err := b.ctl.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	return a, b, dsn
}

// failOver ends a's session and waits until b leads; a still says it
// leads, as it would until its next check.
func failOver(t *testing.T, a, b *fencedReplica, dsn string) {
	t.Helper()
	terminateLeaderSession(t, dsn)
	waitUntil(t, "b to take the lock", b.leader.Leading)
	if !a.leader.Leading() {
		t.Fatal("setup: a noticed it lost the lock already; the test needs a stale leader")
	}
	for _, r := range []*fencedReplica{a, b} {
		if err := r.ctl.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestController_StaleLeader runs two replicas on one PostgreSQL schema.
// The leader a's session is ended on the server (pg_terminate_backend) and
// b takes the lock; a has not noticed yet (Leading still says true) when
// its controller ticks, right before a side effect only the leader may
// have. a must skip it and b do it, once.
func TestController_StaleLeader(t *testing.T) {
	t.Run("DecisionAndItsAlert", func(t *testing.T) {
		a, b, dsn := staleFleet(t)
		ctx := t.Context()
		// An A/B test that has its sample: the next analysis ends it, with
		// an alert.
		if _, err := a.c.Start(ctx, "op", "A/B", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyABTest, ABSamples: 100, ABFeedbackWait: new(sluice.Duration)}); err != nil {
			t.Fatal(err)
		}
		a.c.Wait() // the warm-up puts it live
		failOver(t, a, b, dsn)
		if p := a.ctl.Registry().Rollouts["chat"].Phase; p != sluice.PhaseProgressing {
			t.Fatalf("setup: the rollout is %s, want progressing", p)
		}

		a.c.Step(ctx) // stale: must not decide
		if a.leader.Leading() {
			t.Error("a still says it leads after the store told it its session is gone")
		}
		if n := a.alerts.Len(); n != 0 {
			t.Errorf("the replica that lost the lock sent %d alert(s) after its session ended; want 0 (the new leader decides and alerts)", n)
		}
		if err := b.ctl.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		b.c.Step(ctx)
		b.c.Wait()
		if n := a.alerts.Len() + b.alerts.Len(); n != 1 {
			t.Errorf("%d alerts for the A/B test's end (a: %d, b: %d), want exactly 1", n, a.alerts.Len(), b.alerts.Len())
		}
		if n := b.alerts.Len(); n != 1 {
			t.Errorf("the new leader sent %d alert(s), want 1: the decision is its to make", n)
		}
		if err := b.ctl.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if p := b.ctl.Registry().Rollouts["chat"].Phase; p != sluice.PhaseCompleted {
			t.Errorf("the rollout is %s, want completed", p)
		}
		audit, err := b.ctl.Store().Audit(ctx, sluice.AuditQuery{Action: "rollout.decision"})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 1 {
			t.Errorf("%d rollout.decision audit entries, want 1", len(audit))
		}
	})

	t.Run("Warmup", func(t *testing.T) {
		a, b, dsn := staleFleet(t)
		ctx := t.Context()
		// Started through b while it follows: b does not warm, and a is not
		// ticking yet, so the rollout waits for the leader's next tick.
		if _, err := b.c.Start(ctx, "op", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
			t.Fatal(err)
		}
		b.c.Wait()
		if n := b.warmer.n.Load(); n != 0 {
			t.Fatalf("setup: the follower b warmed %d time(s)", n)
		}
		failOver(t, a, b, dsn)

		a.c.Step(ctx) // stale: must not warm
		a.c.Wait()
		b.c.Step(ctx)
		b.c.Wait()
		if n := a.warmer.n.Load(); n != 0 {
			t.Errorf("the replica that lost the lock started %d warm-up(s) after its session ended; want 0 (the new leader warms)", n)
		}
		if n := b.warmer.n.Load(); n != 1 {
			t.Errorf("the new leader started %d warm-up(s), want 1", n)
		}
		if err := b.ctl.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if p := b.ctl.Registry().Rollouts["chat"].Phase; p != sluice.PhaseProgressing {
			t.Errorf("the rollout is %s after the new leader's warm-up, want progressing", p)
		}
	})
}
