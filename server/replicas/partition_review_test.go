package replicas_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestBlackholedConnectionsFreezeRouting: replica 1's open
// connections to PostgreSQL stop answering without being closed (the
// database failed over and its old address drops packets; a stateful
// firewall forgot the flows), while new connections work. The watcher, the
// periodic reconcile and admin changes all call the store with the
// server's context and no deadline (server/replica.go reconcile,
// postgres/watch.go listen), so the reconcile blocks inside
// Control.Reload, holding the control plane's mutex, until the kernel
// gives up on the connection (about 15 minutes on Linux). Replica 1 keeps
// routing by its old registry while replica 2, through the same working
// database, has moved on: README promises a change is live everywhere
// within milliseconds, with a 2 s re-read "in case a notice was missed".
//
// With the reload bounded (5 s), the test still failed once in CI: a busy
// replica's pool holds 4 connections, all dead after the freeze. Each idle
// one cost a reload its whole 5 s (pgxpool's ping waits as long as the
// caller may), and each that failed a call kept its place in the pool for
// 15 s while pgx waited for the server to hang up, so no connection could
// be opened meanwhile. postgres/silence.go bounds both; fillPool makes the
// pool full before the freeze every time, not only on a loaded machine.
func TestBlackholedConnectionsFreezeRouting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateway processes")
	}
	f, bh, r1 := blackholedReplica(t)
	r2 := f.start(1)[0]
	ctx := t.Context()
	// Let replica 1 open its pool, listener and leader connections.
	time.Sleep(3 * time.Second)
	fillPool(t, r1)

	bh.FreezeExisting()
	// A reconcile tick (every 2 s) now takes a black-holed pooled
	// connection; so does an admin change through replica 1.
	time.Sleep(3 * time.Second)

	if _, err := r2.client.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, "", "review"); err != nil {
		t.Fatalf("change through replica 2: %v", err)
	}
	want, err := r2.policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		if got, err = r1.policy(ctx); err == nil && got == want {
			t.Logf("replica 1 routes by the change %v after it", time.Since(deadline.Add(-15*time.Second)).Round(time.Millisecond))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The replica's log, printed at the end, then says where its
	// goroutines wait.
	r1.cmd.Process.Signal(syscall.SIGQUIT)
	time.Sleep(2 * time.Second)
	t.Fatalf("15 s after a change committed through replica 2 (the database answering new connections all along), replica 1 still routes by revision %v:\n got  %s\n want %s",
		r1.metric("sluice_registry_revision"), got, want)
}

// TestBlackholedConnectionsHangAdminChanges: with replica 1's open
// connections black-holed as above, an admin change through replica 1
// neither succeeds (the database answers new connections) nor fails with
// the 503 README promises ("admin changes answer 503 saying PostgreSQL
// cannot be reached"): it hangs, since neither control.Service.Do (which
// waits for the mutex the stuck reconcile holds) nor the store calls have
// a deadline.
func TestBlackholedConnectionsHangAdminChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a gateway process")
	}
	_, bh, r1 := blackholedReplica(t)
	time.Sleep(3 * time.Second)
	bh.FreezeExisting()
	time.Sleep(3 * time.Second)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	start := time.Now()
	_, err := r1.client.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 60}, {Version: "v1.1.0", Percent: 40}}, "", "review")
	if ctx.Err() != nil {
		t.Fatalf("an admin change through replica 1 got no answer in %v (err %v): it neither succeeded nor failed with 503", time.Since(start).Round(time.Second), err)
	}
}

// fillPool makes replica 1 open as many pooled connections as its pool
// holds (pgxpool's default on this machine: 4), by reading the audit log
// through it several times at once, so that a freeze black-holes all of
// them, as on a busy replica: with one pooled connection, as an idle test
// replica may have, the catch-up after a freeze has one dead connection
// to get past, not the pool's worth.
func fillPool(t *testing.T, r *replica) {
	t.Helper()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 5 {
				if _, err := r.client.Audit(t.Context(), sluice.AuditQuery{Model: "chat"}); err != nil {
					t.Errorf("read the audit through replica 1: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// blackholedReplica starts one replica whose connections to the test
// server go through a black-hole proxy (pgtest.Blackhole), and returns the
// fleet (whose next replicas connect directly), the proxy and the replica.
func blackholedReplica(t *testing.T) (*fleet, *pgtest.Blackhole, *replica) {
	t.Helper()
	dsn := pgtest.Schema(t)
	bh := pgtest.NewBlackhole(t, dsn)
	f := newFleet(t, dsn)
	f.dsn = bh.DSN(dsn)
	r1 := f.start(1)[0]
	f.dsn = dsn
	return f, bh, r1
}
