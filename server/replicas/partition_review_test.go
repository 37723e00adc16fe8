package replicas_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"context"
	"net/url"
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
func TestBlackholedConnectionsFreezeRouting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateway processes")
	}
	f, bh, r1 := blackholedReplica(t)
	r2 := f.start(1)[0]
	ctx := t.Context()
	// Let replica 1 open its pool, listener and leader connections.
	time.Sleep(3 * time.Second)

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
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
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

// blackholedReplica starts one replica whose connections to the test
// server go through a black-hole proxy (see newBlackhole), and returns the
// fleet (whose next replicas connect directly), the proxy and the replica.
func blackholedReplica(t *testing.T) (*fleet, *blackhole, *replica) {
	t.Helper()
	dsn := pgtest.Schema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	bh := newBlackhole(t, u.Host)
	f := newFleet(t, dsn)
	f.dsn = bh.DSN(t, dsn)
	r1 := f.start(1)[0]
	f.dsn = dsn
	return f, bh, r1
}
