package pgtest

import (
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Blackhole forwards TCP connections to the test server until they are
// frozen; from then on nothing passes on a frozen connection in either
// direction and nothing is closed on either side, as when a host loses
// power or the network between it and the database is partitioned, or a
// stateful firewall forgot the flows: no FIN or RST ever reaches either
// end. (Proxy, by contrast, closes what it cuts.)
type Blackhole struct {
	ln     net.Listener
	target string
	frozen atomic.Bool // new connections hang too (Freeze)
	mu     sync.Mutex
	held   []net.Conn
	dead   []*atomic.Bool
}

// NewBlackhole starts a black hole in front of the server dsn names and
// closes everything it holds when the test ends.
func NewBlackhole(tb testing.TB, dsn string) *Blackhole {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		tb.Fatalf("pgtest.NewBlackhole: %s must be a postgres:// URL with a host: %v", Env, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b := &Blackhole{ln: ln, target: u.Host}
	tb.Cleanup(func() {
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

// DSN returns dsn with its host and port replaced by the black hole's.
func (b *Blackhole) DSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Host = b.ln.Addr().String()
	return u.String()
}

// Freeze black-holes every connection, open or new.
func (b *Blackhole) Freeze() {
	b.frozen.Store(true)
	b.FreezeExisting()
}

// FreezeExisting black-holes the connections open now; new ones work, as
// when the database came back at a new address (a failover) and the old
// one drops packets.
func (b *Blackhole) FreezeExisting() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.dead {
		d.Store(true)
	}
}

func (b *Blackhole) keep(c net.Conn) {
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
