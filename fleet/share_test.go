package fleet_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// flakyBeats is a store whose reads of the beats fail while down is set,
// as they do while PostgreSQL is unreachable.
type flakyBeats struct {
	*postgres.Store
	down  atomic.Bool
	reads atomic.Int64 // the reads that failed
}

func (f *flakyBeats) ReplicaBeats(ctx context.Context, except string, maxAge time.Duration) ([]postgres.ReplicaBeat, error) {
	if f.down.Load() {
		f.reads.Add(1)
		return nil, errors.New("connection refused")
	}
	return f.Store.ReplicaBeats(ctx, except, maxAge)
}

// shares records what ShareLimits set, in order: the replicas, and the
// weighted shares last.
type shares struct {
	mu       sync.Mutex
	got      []int
	weighted map[string]float64
}

func (s *shares) set(n int, w map[string]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, n)
	s.weighted = w
}

// share returns the last share of key set, and whether it was weighted.
func (s *shares) share(key string) (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.weighted[key]
	return w, ok
}

func (s *shares) last() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return 0, 0
	}
	return s.got[len(s.got)-1], len(s.got)
}

func (s *shares) waitFor(t *testing.T, what string, want int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if n, _ := s.last(); n == want {
			return
		}
		if time.Now().After(deadline) {
			n, _ := s.last()
			t.Fatalf("%s: the keys' limits are shared by %d replicas, want %d", what, n, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// What the user does: runs replicas on PostgreSQL with client keys that
// have limits. What must happen: each replica counts the live replicas
// from their beats (itself included, a stale beat left out) and tells
// its keys at once when the count changes (a replica joins, one stops);
// while the beats cannot be read it keeps the last count, rather than
// falling back to the whole limit on every replica at once.
func TestDrain_ShareLimits(t *testing.T) {
	dsn := pgtest.Schema(t)
	var none counts
	store := &flakyBeats{Store: MustOpen(t, dsn)}
	a := fleet.NewDrain(fleet.DrainOptions{Store: store, Replica: "a", InFlight: none.get, Interval: 20 * time.Millisecond})
	b := fleet.NewDrain(fleet.DrainOptions{Store: MustOpen(t, dsn), Replica: "b", InFlight: none.get, Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	run := func(f func(context.Context)) context.CancelFunc {
		c, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); defer close(done); f(c) }()
		return func() { stop(); <-done }
	}
	var got shares
	run(a.Run)
	run(func(c context.Context) { a.ShareLimits(c, got.set) })
	got.waitFor(t, "a alone", 1)

	stopB := run(b.Run)
	got.waitFor(t, "b joined", 2)
	if n, err := a.LiveReplicas(ctx); n != 2 || err != nil {
		t.Errorf("LiveReplicas with a and b: %d, %v; want 2", n, err)
	}
	// A replica that died without deleting its beat: ignored once stale.
	pgtest.Exec(t, dsn, `INSERT INTO replica_beats (replica, revision, inflight, beat_at) VALUES ('dead', 1, '{}', now() - interval '1 minute')`)
	if n, err := a.LiveReplicas(ctx); n != 2 || err != nil {
		t.Errorf("LiveReplicas with a stale beat: %d, %v; want 2", n, err)
	}

	t.Run("StoreDownKeepsLast", func(t *testing.T) {
		store.down.Store(true)
		stopB() // b's beat goes, but a cannot read that
		for deadline := time.Now().Add(10 * time.Second); store.reads.Load() < 5; {
			if time.Now().After(deadline) {
				t.Fatal("a did not try to read the beats")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if n, _ := got.last(); n != 2 {
			t.Errorf("with the beats unreadable, a's keys are shared by %d replicas, want the last count, 2", n)
		}
		store.down.Store(false)
		got.waitFor(t, "the store back, b gone", 1)
	})
	t.Run("SetOnlyOnChange", func(t *testing.T) {
		_, calls := got.last()
		time.Sleep(200 * time.Millisecond) // ten reads
		if _, now := got.last(); now != calls {
			t.Errorf("set called %d times more with no change of the replicas", now-calls)
		}
	})
}

// A replica that stops drains its requests in flight (up to 30 s of
// streams) before it deletes its beat, but takes no new requests from
// the moment it starts to: the others must stop counting it for the
// keys' limits then, or they enforce a smaller share than the replicas
// still serving while it drains (a rolling update undershot every key
// for its whole length). Its requests in flight still count for a
// rollback's drain (InFlightElsewhere) until they end.
func TestDrain_ShareLimitsDraining(t *testing.T) {
	dsn := pgtest.Schema(t)
	var none, bFlight counts
	bFlight.set("chat:v1", 1)
	a := fleet.NewDrain(fleet.DrainOptions{Store: MustOpen(t, dsn), Replica: "a", InFlight: none.get, Interval: 20 * time.Millisecond})
	b := fleet.NewDrain(fleet.DrainOptions{Store: MustOpen(t, dsn), Replica: "b", InFlight: bFlight.get, Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, f := range []func(context.Context){a.Run, b.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	var got shares
	wg.Add(1)
	go func() { defer wg.Done(); a.ShareLimits(ctx, got.set) }()
	got.waitFor(t, "a and b beat", 2)

	b.Draining()
	got.waitFor(t, "b draining", 1)
	if n, err := a.LiveReplicas(ctx); n != 1 || err != nil {
		t.Errorf("LiveReplicas with b draining: %d, %v; want 1", n, err)
	}
	if n, err := a.InFlightElsewhere(ctx, "chat:v1", 0); n != 1 || err != nil {
		t.Errorf("InFlightElsewhere with b draining its request: %d, %v; want 1 (a rollback's drain waits for it)", n, err)
	}
	if ok, err := a.Alive(ctx, "b"); !ok || err != nil {
		t.Errorf("Alive(b) while it drains: %v, %v; want true", ok, err)
	}
}

// demandOf is a replica's demand per key, as a test sets it.
type demandOf struct {
	mu sync.Mutex
	m  map[string]float64
}

func (d *demandOf) set(m map[string]float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m = m
}

func (d *demandOf) get() map[string]float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.m)
}

// What the user does: runs replicas on PostgreSQL behind a balancer that
// sends all of a key's requests to one of them (a Kubernetes Service and
// one kept-alive connection). What must happen: each replica publishes
// its demand per key in its beat, and the one the key's requests reach
// holds nearly the whole limit (0.95 of two), the other the floor; a key
// with no demand keeps the even share; when the other drains, this one
// holds the whole limit; an older replica's beat, which says no demand,
// counts as an even share.
func TestDrain_ShareLimitsWeighted(t *testing.T) {
	dsn := pgtest.Schema(t)
	var none counts
	var da, db demandOf
	da.set(map[string]float64{"pinned": 20, "spread": 5})
	db.set(map[string]float64{"spread": 5})
	a := fleet.NewDrain(fleet.DrainOptions{Store: MustOpen(t, dsn), Replica: "a", InFlight: none.get, Interval: 20 * time.Millisecond, Demand: da.get})
	b := fleet.NewDrain(fleet.DrainOptions{Store: MustOpen(t, dsn), Replica: "b", InFlight: none.get, Interval: 20 * time.Millisecond, Demand: db.get})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var gotA, gotB shares
	for _, f := range []func(context.Context){a.Run, b.Run,
		func(c context.Context) { a.ShareLimits(c, gotA.set) },
		func(c context.Context) { b.ShareLimits(c, gotB.set) }} {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	waitShare := func(got *shares, who, key string, want float64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; {
			if w, ok := got.share(key); ok && math.Abs(w-want) < 1e-9 {
				return
			}
			if time.Now().After(deadline) {
				w, ok := got.share(key)
				t.Fatalf("%s's share of %s: %v (weighted %v), want %v", who, key, w, ok, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitShare(&gotA, "a", "pinned", 0.95)
	waitShare(&gotB, "b", "pinned", 0.05)
	waitShare(&gotA, "a", "spread", 0.5)
	waitShare(&gotB, "b", "spread", 0.5)
	if _, ok := gotA.share("idle"); ok {
		t.Error("a key with no demand anywhere has a weighted share, want the even one")
	}

	// An older replica: its beat has no demand (NULL). Three replicas,
	// the older one enforcing a third: a and b split two thirds.
	pgtest.Exec(t, dsn, `INSERT INTO replica_beats (replica, revision, inflight, beat_at) VALUES ('older', 1, '{}', now() + interval '1 hour')`)
	waitShare(&gotA, "a", "pinned", 2.0/3*0.95)
	waitShare(&gotB, "b", "pinned", 2.0/3*0.05)
	pgtest.Exec(t, dsn, `DELETE FROM replica_beats WHERE replica = 'older'`)
	waitShare(&gotA, "a", "pinned", 0.95)

	b.Draining()
	gotA.waitFor(t, "b draining", 1)
	waitShare(&gotA, "a", "pinned", 1)
}
