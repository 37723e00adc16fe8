package replicas_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestLeaderHostLostNoFailover: the leading replica's host dies (or
// is partitioned away) without its TCP connections being closed. README
// promises "When the leader dies, its session ends, the lock is freed and
// another replica takes over within about a second". But the session-level
// advisory lock lives as long as the server believes the session is alive,
// and nothing bounds that: no idle_session_timeout, no TCP keepalive or
// tcp_user_timeout on the leader's connection, so the server keeps the dead
// session (and the lock) until the OS keepalive gives up (over two hours by
// default). Meanwhile no replica runs the rollout controller: a bad canary
// is never rolled back.
func TestLeaderHostLostNoFailover(t *testing.T) {
	dsn := pgtest.Schema(t)
	bh := pgtest.NewBlackhole(t, dsn)
	ctx := t.Context()
	open := func(dsn string) *postgres.Store {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := postgres.OpenOptions(c, dsn, postgres.Options{ConnectTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	// Replica A reaches PostgreSQL through the black hole's port.
	aDSN := bh.DSN(dsn)
	a, b := open(aDSN), open(dsn)

	la := a.NewLeader(postgres.LeaderOptions{Interval: 200 * time.Millisecond})
	lb := b.NewLeader(postgres.LeaderOptions{Interval: 200 * time.Millisecond})
	actx, acancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { la.Run(actx) })
	waitFor(t, 5*time.Second, "A leads", la.Leading)
	bctx, bcancel := context.WithCancel(ctx)
	wg.Go(func() { lb.Run(bctx) })
	time.Sleep(time.Second)
	if lb.Leading() {
		t.Fatal("B leads while A holds the lock")
	}

	// A's host vanishes: its packets stop, its sockets never close on the
	// server's side.
	bh.Freeze()
	acancel()

	deadline := time.Now().Add(15 * time.Second)
	for !lb.Leading() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	took := lb.Leading()
	bcancel()
	wg.Wait()
	if !took {
		t.Fatalf("15 s after the leading replica's host went away, no other replica leads: the server still holds the dead session's advisory lock")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
