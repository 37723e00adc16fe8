package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// openThrough opens a store on a fresh schema whose connections pass
// through a black hole, with a pool of maxConns.
func openThrough(t *testing.T, maxConns int32) (*postgres.Store, *pgtest.Blackhole) {
	t.Helper()
	dsn := pgtest.Schema(t)
	bh := pgtest.NewBlackhole(t, dsn)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := postgres.OpenOptions(ctx, bh.DSN(dsn), postgres.Options{MaxConns: maxConns, ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.FillPool(ctx, int(maxConns)); err != nil {
		t.Fatal(err)
	}
	return s, bh
}

// TestSilentIdleConnectionsAreReplaced: every idle pooled connection goes
// silent at once (a failover moved the server's address; a stateful
// firewall forgot the flows) while new connections work. pgxpool pings a
// connection idle for over a second before lending it, but waited for the
// ping as long as the call's deadline allowed and then lent the next dead
// one, so each call after such an outage failed: with a pool of 8, it took
// 8 calls (a replica's catch-up reload, every 2 s with 5 s each, routed by
// an old registry for over 20 s). Now the first ping that gets no answer
// in 2 s drops every pooled connection, and the call goes on over a new one.
func TestSilentIdleConnectionsAreReplaced(t *testing.T) {
	s, bh := openThrough(t, 8)
	time.Sleep(1500 * time.Millisecond) // idle long enough to be pinged
	bh.FreezeExisting()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := s.LoadRegistry(ctx); err != nil {
		t.Fatalf("with every pooled connection silent and the server answering new ones, a call with 5 s failed after %v: %v",
			time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("the call went through after %v", time.Since(start).Round(time.Millisecond))
}

// TestBrokenConnectionsGiveBackTheirPlaces: calls in flight on connections
// that go silent fail at their deadlines, and pgx then closes each of those
// connections in the background, reading until the server hangs up, for up
// to 15 s, while the pool keeps the connection's place. So with as many
// such calls as the pool holds, the store could reach the server through
// no connection at all, new or old, for 15 s after they failed. Now a
// broken connection gives its place back within a second.
func TestBrokenConnectionsGiveBackTheirPlaces(t *testing.T) {
	s, bh := openThrough(t, 4)
	bh.FreezeExisting()
	// Used a moment ago, so not pinged: each call takes a dead connection.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			if _, err := s.LoadRegistry(ctx); err == nil {
				t.Error("a call over a black-holed connection succeeded")
			}
		})
	}
	wg.Wait()

	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := s.LoadRegistry(ctx); err != nil {
		t.Fatalf("after 4 calls failed on silent connections (a pool of 4), a call with 4 s failed after %v: %v",
			time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("the call went through after %v", time.Since(start).Round(time.Millisecond))
}
