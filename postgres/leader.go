package postgres

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultLeaderInterval is how often a Leader tries for the lock and, once
// it holds it, checks its connection, when LeaderOptions.Interval is zero.
const DefaultLeaderInterval = time.Second

// LeaderOptions configures NewLeader. The zero value is ready to use.
type LeaderOptions struct {
	// Name tells apart elections in one schema; empty means "controller".
	Name string
	// Interval is how often the lock is tried for and, once held, the
	// connection checked. Zero means DefaultLeaderInterval.
	Interval time.Duration
	// OnChange, if set, is called with true when this process becomes the
	// leader and false when it stops being one.
	OnChange func(leading bool)
	// Logger logs changes of leadership; nil discards.
	Logger *slog.Logger
}

// Leader elects one process among those sharing a schema, with a
// session-level advisory lock held on a connection of its own: the process
// whose session holds the lock leads. If the process dies, or its
// connection breaks, the server ends the session and frees the lock, and
// another process takes it at its next try. A process whose connection
// check fails stops leading at once, before it knows whether the server
// noticed, so two processes lead at the same time only for as long as a
// broken connection goes unnoticed by the server; whatever a leader writes
// must therefore still be safe against a stale leader (rollout transitions
// commit with an optimistic revision).
//
// Leader implements the rollout controller's Leader interface.
type Leader struct {
	store   *Store
	key     string
	opt     LeaderOptions
	leading atomic.Bool

	connMu sync.Mutex // serialises the session's connection between Run and Confirm
	conn   *pgx.Conn  // the session's connection while Run has one; nil otherwise
}

// leaderKey is the advisory lock key of the election name ("" is the
// rollout controller's, "controller") in the store's schema.
func (s *Store) leaderKey(name string) string {
	if name == "" {
		name = "controller"
	}
	return "sluice:leader:" + name + ":" + s.schema
}

// NewLeader returns a Leader for the store's schema. Call Run to take part
// in the election.
func (s *Store) NewLeader(opt LeaderOptions) *Leader {
	if opt.Name == "" {
		opt.Name = "controller"
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultLeaderInterval
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Leader{store: s, key: s.leaderKey(opt.Name), opt: opt}
}

// Leading reports whether this process holds the lock, as of the last
// check (at most Interval ago).
func (l *Leader) Leading() bool { return l.leading.Load() }

// DefaultConfirmTimeout bounds Confirm's round trip.
const DefaultConfirmTimeout = 500 * time.Millisecond

// Confirm reports whether this process still holds the lock now, asking the
// server on the session that holds it: Leading may say so for up to an
// Interval (or two, with a slow connection) after the server ended the
// session and another process took the lock. The rollout controller asks
// it right before a side effect only the leader may have (a decision, a
// warm-up). A session that does not answer within DefaultConfirmTimeout
// counts as lost: this process steps down at once, and Run reconnects and
// tries for the lock again. It costs one round trip on an idle connection.
func (l *Leader) Confirm(ctx context.Context) bool {
	if !l.Leading() {
		return false
	}
	l.connMu.Lock()
	defer l.connMu.Unlock()
	if l.conn == nil || !l.Leading() {
		return false
	}
	// Not the caller's context: pgx closes a connection whose query is
	// cancelled, which would give the lock up for a caller that left.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(DefaultConfirmTimeout, l.opt.Interval))
	defer cancel()
	if err := l.conn.Ping(cctx); err != nil {
		l.opt.Logger.Warn("leader: the session holding the lock is gone; stepping down", "err", err)
		l.set(false)
		// Run's next check fails on the closed connection and starts a new
		// session, which tries for the lock again.
		l.conn.Close(context.WithoutCancel(ctx))
		return false
	}
	return true
}

// Run takes part in the election until ctx ends, then gives the lock up
// (by closing its connection) and returns.
func (l *Leader) Run(ctx context.Context) {
	defer l.set(false)
	for ctx.Err() == nil {
		l.session(ctx)
		l.set(false)
		l.sleep(ctx)
	}
}

// session connects and tries for the lock every Interval, then, once it
// holds it, checks the connection every Interval, until the connection
// fails or ctx ends.
func (l *Leader) session(ctx context.Context) {
	conn, err := l.store.connect(ctx)
	if err != nil {
		return
	}
	defer func() {
		l.connMu.Lock()
		l.conn = nil
		l.connMu.Unlock()
		conn.Close(context.WithoutCancel(ctx))
	}()
	// If this process's host is lost (power, a partition), nothing closes
	// the session, and the server would keep it, and the lock, until its
	// TCP keepalive gives up (hours by default): no replica could lead.
	// The leader pings every Interval, so a session idle for several
	// Intervals is dead: the server ends it and frees the lock. Keepalives
	// are the fallback. A server too old for a setting ignores it here.
	idle := max(10*l.opt.Interval, 5*time.Second)
	for _, set := range []string{
		fmt.Sprintf("SET idle_session_timeout = %d", idle.Milliseconds()),
		"SET tcp_keepalives_idle = 5", "SET tcp_keepalives_interval = 2", "SET tcp_keepalives_count = 3",
		fmt.Sprintf("SET tcp_user_timeout = %d", idle.Milliseconds()),
	} {
		sctx, cancel := context.WithTimeout(ctx, l.opt.Interval)
		conn.Exec(sctx, set)
		cancel()
	}
	l.connMu.Lock()
	l.conn = conn
	l.connMu.Unlock()
	for ctx.Err() == nil {
		if !l.check(ctx, conn) {
			return
		}
		l.sleep(ctx)
	}
}

// check tries for the lock (or, when held, proves the session is alive)
// and reports whether the connection still works.
func (l *Leader) check(ctx context.Context, conn *pgx.Conn) bool {
	l.connMu.Lock()
	defer l.connMu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, l.opt.Interval)
	defer cancel()
	if l.Leading() {
		if err := conn.Ping(cctx); err != nil {
			// A shutdown (ctx ended) is not a lost connection: Run's
			// set(false) says at INFO that this replica stopped leading.
			if ctx.Err() == nil {
				l.opt.Logger.Warn("leader: lost the connection to PostgreSQL; stepping down", "err", err)
			}
			return false
		}
		return true
	}
	var got bool
	if err := conn.QueryRow(cctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", l.key).Scan(&got); err != nil {
		return false
	}
	l.set(got)
	return true
}

func (l *Leader) set(leading bool) {
	if l.leading.Swap(leading) == leading {
		return
	}
	if leading {
		l.opt.Logger.Info("leader: this replica now runs the rollout controller", "election", l.key)
	} else {
		l.opt.Logger.Info("leader: this replica no longer runs the rollout controller", "election", l.key)
	}
	if l.opt.OnChange != nil {
		l.opt.OnChange(leading)
	}
}

func (l *Leader) sleep(ctx context.Context) {
	t := time.NewTimer(l.opt.Interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
