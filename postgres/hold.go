package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// TryHold takes the session advisory lock called name (within this store's
// schema), without waiting: held is false, and nothing is taken, when
// another session (another replica) holds it, or this store already does.
// release frees the lock; should this process die first, its session ends
// and the server frees the lock. The rollout controller holds
// "drill:MODEL" for a fire drill's length, so that a drill on one replica
// and a drill or rollout of the same model on another do not overlap; a
// rollout's start looks at it inside its own transaction
// (sluice.Change.Unheld), which then keeps TryHold from taking it until
// the commit.
//
// Every lock of the store is held on one connection of its own (holdConn),
// outside the pool: a hold keeps its session for as long as it is held (a
// drill's seconds), and holds taken from the pool left the pool's other
// callers, the drills' own changes among them, none to work with. One
// connection for them all, not one each, so that drills of many models at
// once take one of the server's connections, not as many as there are
// drills, and a drill trying again while a start commits elsewhere tries
// on the same one. It stays open holdIdle after the last lock is released
// (for those tries), and Close closes it. A server with no connection slot
// left refuses the hold at once (CodeUnavailable).
func (s *Store) TryHold(ctx context.Context, name string) (release func(), held bool, err error) {
	op := "take the " + name + " lock"
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	h := &s.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, sluice.Errorf(sluice.CodeUnavailable, "%s: the store is closed (the gateway is shutting down): try again through a running replica", op)
	}
	if _, ok := h.names[name]; ok {
		return nil, false, nil // held through this store: one holder at a time, here too
	}
	key := s.holdKey(name)
	var got bool
	for attempt := 0; ; attempt++ {
		fresh := h.conn == nil
		if fresh {
			conn, err := s.connectHold(ctx)
			if err != nil {
				h.idleLater()
				return nil, false, s.mapErr(ctx, op, err)
			}
			h.conn = conn
			h.gen++
		}
		err = h.exec(func(qctx context.Context) error {
			return h.conn.QueryRow(qctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key).Scan(&got)
		})
		if err == nil {
			break
		}
		if fresh || attempt > 0 || ctx.Err() != nil {
			h.idleLater()
			return nil, false, s.mapErr(ctx, op, err)
		}
		// The connection kept from an earlier hold was ended meanwhile
		// (a server restart, an administrator): open another, once.
	}
	if !got {
		h.idleLater()
		return nil, false, nil
	}
	if h.names == nil {
		h.names = map[string]int64{}
	}
	gen := h.gen
	h.names[name] = gen
	var once sync.Once
	return func() {
		once.Do(func() { h.release(name, key, gen) })
	}, true, nil
}

// holdConn is the connection a Store holds its locks on (TryHold), with
// what it holds.
type holdConn struct {
	mu     sync.Mutex
	conn   *pgx.Conn        // nil when none is open
	gen    int64            // counts the connections opened, so that a release unlocks only on the session that locked
	names  map[string]int64 // the locks held through this store, by name: the gen of the connection each was taken on
	idle   *time.Timer      // closes conn once no lock is held (idleLater)
	closed bool             // by Store.Close: no more holds
}

// holdIdle is how long the lock connection stays open once no lock is
// held: longer than a drill's tries to take a lock kept from it by a
// start elsewhere (startHoldWait in the rollout controller), so that they
// all run on one connection.
const holdIdle = 10 * time.Second

// holdQueryTimeout bounds one lock or unlock on the lock connection.
const holdQueryTimeout = 5 * time.Second

// exec runs f on h.conn with a context of its own, not the caller's: pgx
// closes a connection whose query's context ends mid-query, which would
// end the session, and with it every other lock it holds, when one
// drill's operator pressed Ctrl-C. A query that fails leaves the session
// in an unknown state (a lock taken or not, the connection broken), so
// the connection is closed, freeing its locks on the server. h.mu is
// held.
func (h *holdConn) exec(f func(ctx context.Context) error) error {
	qctx, cancel := context.WithTimeout(context.Background(), holdQueryTimeout)
	defer cancel()
	err := f(qctx)
	if err != nil {
		h.closeConn()
	}
	return err
}

// release frees the lock called name (key on the server), taken on the
// connection gen.
func (h *holdConn) release(name, key string, gen int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.names[name] != gen {
		return
	}
	delete(h.names, name)
	if h.conn != nil && h.gen == gen {
		// Unlocked at once, so the lock is free when release returns.
		// Should the unlock fail, exec closes the connection, which frees
		// it (and the others: the session is gone).
		h.exec(func(ctx context.Context) error {
			_, err := h.conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
			return err
		})
	}
	// Otherwise the connection it was taken on is gone, and the lock with
	// its session.
	h.idleLater()
}

// idleLater closes the connection holdIdle from now unless a lock is held
// then. h.mu is held.
func (h *holdConn) idleLater() {
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	if h.conn == nil || len(h.names) > 0 || h.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(holdIdle, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.idle == t && len(h.names) == 0 {
			h.closeConn()
			h.idle = nil
		}
	})
	h.idle = t
}

// closeConn closes the connection, if one is open. h.mu is held.
func (h *holdConn) closeConn() {
	if h.conn == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.Background(), holdQueryTimeout)
	defer cancel()
	h.conn.Close(cctx)
	h.conn = nil
}

// close closes the connection for good (Store.Close): the server frees
// the locks it held, and TryHold refuses.
func (h *holdConn) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.idle != nil {
		h.idle.Stop()
		h.idle = nil
	}
	h.closeConn()
	h.names = nil
}

// holdKey is the advisory lock key, hashed by the server, of the hold
// called name in this store's schema.
func (s *Store) holdKey(name string) string { return "sluice:" + name + ":" + s.schema }

// holdSession is the settings of a hold's session. A hold's connection is
// idle while the drill runs, so should this process's host be lost (power,
// a partition), nothing would end the session, and the server would keep
// it, and the lock, until its TCP keepalive gave up: hours by default, in
// which the model could be neither drilled nor rolled out. With these the
// server probes an idle session after 5 s and ends it after three
// unanswered probes 2 s apart, or once data it sent has gone
// unacknowledged for 10 s; a live session answers the probes and is kept,
// however long the drill. (The leader's session, which pings, also sets
// idle_session_timeout; a hold cannot, having nothing to send.) They are
// set once connected, one statement each, as the leader's are, not in the
// startup packet: a pooler such as PgBouncer refuses a startup parameter
// it does not know, and a server too old for one (tcp_user_timeout came
// in PostgreSQL 12) fails only that statement. On a Unix socket the server
// ignores them.
var holdSession = []string{
	"SET tcp_keepalives_idle = 5",
	"SET tcp_keepalives_interval = 2",
	"SET tcp_keepalives_count = 3",
	"SET tcp_user_timeout = 10000",
}

// connectHold opens a hold's connection, outside the pool, with the
// session settings of holdSession (each one's failure ignored: the hold
// works without it, as it did before them).
func (s *Store) connectHold(ctx context.Context) (*pgx.Conn, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, set := range holdSession {
		if _, err := conn.Exec(ctx, set); err != nil && ctx.Err() != nil {
			conn.Close(context.Background())
			return nil, err
		}
	}
	return conn, nil
}
