package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// silentAfter is how long a pooled connection that sat idle may take to
// answer a ping before the pool takes it for silent. A server that is up
// answers an empty query in milliseconds, even a busy one well within this.
const silentAfter = 2 * time.Second

// pingIdleAfter is pgxpool's rule for which connections to ping before
// lending them: those idle for longer than this.
const pingIdleAfter = time.Second

// silence pings a pooled connection that sat idle before it is lent and,
// when one gives no answer in silentAfter, drops every pooled connection.
//
// Why not pgxpool's own ping: it waits for a silent connection as long as
// the caller's deadline allows, drops that one connection and lends the
// next idle one, which went silent at the same moment (a failover moved
// the server's address; a stateful firewall forgot the flows), so each
// call after an outage spent its whole deadline on one dead connection: a
// replica's catch-up reload (5 s) took the pool's size in reloads to reach
// a connection that works, and routed by an old registry for 20 s with
// the default pool of 4 (server/replicas
// TestBlackholedConnectionsFreezeRouting). Silence on one connection is
// taken as news about all of them, as pgxpool's Reset is meant for: the
// call that found it goes on to a new connection.
type silence struct {
	pool   func() *pgxpool.Pool // set once Open has the pool
	warn   func(msg string, args ...any)
	mu     sync.Mutex
	pingMe map[*pgx.Conn]struct{} // idle long enough: ping in prepare
}

// install makes cfg use s's ping instead of pgxpool's, and bounds how
// long a broken connection holds its place in the pool (beforeClose).
func (s *silence) install(cfg *pgxpool.Config) {
	s.pingMe = make(map[*pgx.Conn]struct{})
	cfg.ShouldPing = s.shouldPing
	cfg.PrepareConn = s.prepare
	cfg.BeforeClose = beforeClose
}

// drainWait bounds how long a connection broken by an interrupted call
// may take to finish closing.
const drainWait = time.Second

// beforeClose runs as the pool destroys a connection. One that a call's
// deadline broke is closed by pgx in the background, which reads until
// the server hangs up (so the server sees a clean close) for up to 15 s,
// and the pool keeps the connection's place until then: a connection that
// went silent gets no hang-up, so each call that failed on one held a
// place for 15 s, and with the pool full of them (4 by default) the
// replica could reach the database through no connection, new or old,
// for that long. A server that answers finishes the close in
// milliseconds; the rest are cut after drainWait. A connection closed in
// the ordinary way (idle too long, the pool closing) says goodbye itself
// and is left alone.
func beforeClose(c *pgx.Conn) {
	if !c.IsClosed() {
		return
	}
	t := time.NewTimer(drainWait)
	defer t.Stop()
	select {
	case <-c.PgConn().CleanupDone():
	case <-t.C:
		c.PgConn().Conn().Close()
	}
}

// shouldPing notes a connection to ping (pgxpool gives the idle time here
// only) and leaves the ping to prepare, which pgxpool calls next on the
// same connection in the same Acquire.
func (s *silence) shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	if p.IdleDuration > pingIdleAfter {
		s.mu.Lock()
		s.pingMe[p.Conn] = struct{}{}
		s.mu.Unlock()
	}
	return false
}

// prepare pings a connection shouldPing noted. A connection that does not
// answer is dropped and Acquire tries the next; when it was silent for
// silentAfter, every idle connection is dropped with it (those lent out
// are closed when they come back), so the next is a new one.
func (s *silence) prepare(ctx context.Context, c *pgx.Conn) (bool, error) {
	s.mu.Lock()
	_, due := s.pingMe[c]
	delete(s.pingMe, c)
	s.mu.Unlock()
	if !due {
		return true, nil
	}
	pctx, cancel := context.WithTimeout(ctx, silentAfter)
	defer cancel()
	err := c.Ping(pctx)
	switch {
	case err == nil:
		return true, nil
	case ctx.Err() != nil:
		// The caller's own deadline came first: not proof of silence.
		return false, ctx.Err()
	case pctx.Err() != nil:
		if s.warn != nil {
			s.warn("a pooled PostgreSQL connection gave no answer to a ping; closing every pooled connection and opening new ones (the path to the server changed: a failover, a firewall or NAT that forgot the connections)", "waited", silentAfter)
		}
		s.pool().Reset()
	}
	return false, nil
}
