package replicas_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// blackhole forwards TCP connections to PostgreSQL until they are frozen;
// from then on nothing passes on a frozen connection in either direction
// and nothing is closed on the server's side, as when a host loses power
// or the network between it and the database is partitioned: no FIN or
// RST ever reaches the other end.
type blackhole struct {
	ln     net.Listener
	target string
	frozen atomic.Bool // new connections hang too (Freeze)
	mu     sync.Mutex
	held   []net.Conn
	dead   []*atomic.Bool
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.held {
			c.Close()
		}
		b.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.keep(c)
			if b.frozen.Load() {
				continue // unreachable: the connection hangs
			}
			s, err := net.Dial("tcp", b.target)
			if err != nil {
				c.Close()
				continue
			}
			b.keep(s)
			dead := new(atomic.Bool)
			b.mu.Lock()
			b.dead = append(b.dead, dead)
			b.mu.Unlock()
			go pipe(s, c, dead)
			go pipe(c, s, dead)
		}
	}()
	return b
}

// DSN returns dsn through the black hole.
func (b *blackhole) DSN(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = b.ln.Addr().String()
	return u.String()
}

// Freeze black-holes every connection, open or new.
func (b *blackhole) Freeze() {
	b.frozen.Store(true)
	b.FreezeExisting()
}

// FreezeExisting black-holes the connections open now; new ones work, as
// when the database came back at a new address (a failover) and the old
// one drops packets.
func (b *blackhole) FreezeExisting() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dead {
		d.Store(true)
	}
}

func (b *blackhole) keep(c net.Conn) {
	b.mu.Lock()
	b.held = append(b.held, c)
	b.mu.Unlock()
}

func pipe(dst, src net.Conn, dead *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if dead.Load() {
			if err != nil {
				return // keep dst open: the other end never learns
			}
			continue // dropped on the floor
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

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
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	bh := newBlackhole(t, u.Host)
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
	aDSN := bh.DSN(t, dsn)
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
