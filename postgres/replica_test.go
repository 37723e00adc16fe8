package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// revs collects what Watch delivers.
type revs struct {
	mu  sync.Mutex
	got []int64
	ch  chan int64
}

func newRevs() *revs { return &revs{ch: make(chan int64, 100)} }

func (r *revs) add(rev int64) {
	r.mu.Lock()
	r.got = append(r.got, rev)
	r.mu.Unlock()
	r.ch <- rev
}

// next waits for a delivery equal to want, failing after a while.
func (r *revs) next(t *testing.T, want int64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-r.ch:
			if got == want {
				return
			}
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("Watch did not deliver %d; delivered %v", want, r.got)
		}
	}
}

// TestStore_Watch checks that a commit made through one store is
// delivered, with its revision, to a watcher on another; that token changes
// are delivered as 0; and that after a broken connection the watcher
// reconnects and says so with a 0.
func TestStore_Watch(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	writer := MustOpen(t, dsn)
	watched := MustOpen(t, p.DSN(dsn))
	ctx, cancel := context.WithCancel(t.Context())
	r := newRevs()
	done := make(chan error)
	go func() { done <- watched.Watch(ctx, r.add) }()
	r.next(t, 0) // connected

	if _, err := writer.Commit(ctx, register(t, sluice.NewRegistry(), "a", "v1")); err != nil {
		t.Fatal(err)
	}
	r.next(t, 1)
	if err := writer.PutToken(ctx, sluice.Token{Name: "t", Role: sluice.RoleAdmin, Hash: "h"}, sluice.AuditEntry{Action: "token.create"}); err != nil {
		t.Fatal(err)
	}
	r.next(t, 0)

	// A failed commit tells no one.
	if _, err := writer.Commit(ctx, register(t, sluice.NewRegistry(), "a", "v9")); sluice.ErrorCode(err) != sluice.CodeConflict {
		t.Fatalf("stale commit: %v", err)
	}

	p.Cut()
	reg, _ := writer.LoadRegistry(ctx)
	if _, err := writer.Commit(ctx, register(t, reg, "a", "v2")); err != nil { // missed by the watcher
		t.Fatal(err)
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	r.next(t, 0) // reconnected: reload, since notices may have been missed
	reg, _ = writer.LoadRegistry(ctx)
	if _, err := writer.Commit(ctx, register(t, reg, "a", "v3")); err != nil {
		t.Fatal(err)
	}
	r.next(t, 3)
	r.mu.Lock()
	for _, rev := range r.got {
		if rev == 9 || rev < 0 || rev > 3 {
			t.Errorf("Watch delivered revision %d, never committed", rev)
		}
	}
	r.mu.Unlock()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Watch returned %v after its context ended, want context.Canceled", err)
	}
}

// leaders runs n leaders, each on its own store behind its own proxy, and
// returns them with their proxies and a stop function per leader.
func leaders(t *testing.T, dsn string, n int) ([]*postgres.Leader, []*pgtest.Proxy, []context.CancelFunc) {
	t.Helper()
	var (
		ls    []*postgres.Leader
		ps    []*pgtest.Proxy
		stops []context.CancelFunc
	)
	for range n {
		p := pgtest.NewProxy(t, dsn)
		l := MustOpen(t, p.DSN(dsn)).NewLeader(postgres.LeaderOptions{Interval: 100 * time.Millisecond})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { l.Run(ctx); close(done) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		ls, ps, stops = append(ls, l), append(ps, p), append(stops, stop)
	}
	return ls, ps, stops
}

// waitOneLeader waits until exactly one of ls leads and returns its index.
func waitOneLeader(t *testing.T, ls []*postgres.Leader, not int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		lead := -1
		n := 0
		for i, l := range ls {
			if l.Leading() {
				lead, n = i, n+1
			}
		}
		if n > 1 {
			t.Fatalf("%d leaders at once", n)
		}
		if n == 1 && lead != not {
			return lead
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader within 10 s")
	return -1
}

// TestLeader checks that of three processes exactly one leads; that when
// the leader stops, or its connection breaks, another takes over within a
// few intervals; and that the old leader stops leading when its
// connection breaks.
func TestLeader(t *testing.T) {
	dsn := pgtest.Schema(t)
	MustOpen(t, dsn) // migrate once
	ls, ps, stops := leaders(t, dsn, 3)

	first := waitOneLeader(t, ls, -1)
	// Leadership is stable while nothing happens.
	time.Sleep(300 * time.Millisecond)
	if !ls[first].Leading() {
		t.Fatal("the leader stopped leading on its own")
	}

	// A leader that stops (a replica shut down, or killed: the server ends
	// its session either way) hands over.
	began := time.Now()
	stops[first]()
	if ls[first].Leading() {
		t.Fatal("a stopped leader still says it leads")
	}
	second := waitOneLeader(t, ls, first)
	t.Logf("leader %d stopped; leader %d took over in %v", first, second, time.Since(began))

	// A leader cut off from the server steps down, and the other takes over.
	began = time.Now()
	ps[second].Cut()
	deadline := time.Now().Add(5 * time.Second)
	for ls[second].Leading() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ls[second].Leading() {
		t.Fatal("a leader cut off from PostgreSQL still says it leads after 5 s")
	}
	third := waitOneLeader(t, ls, second)
	t.Logf("leader %d cut off; it stepped down and leader %d took over in %v", second, third, time.Since(began))

	// When the cut-off process is back it does not take over.
	if err := ps[second].Restore(); err != nil {
		t.Fatal(err)
	}
	var flips atomic.Int32
	for range 30 {
		if !ls[third].Leading() || ls[second].Leading() {
			flips.Add(1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if flips.Load() > 0 {
		t.Fatal("leadership moved back when the cut-off process returned")
	}
}
