package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// TryHold takes the session advisory lock called name (within this store's
// schema) on a connection of its own, without waiting: held is false, and
// nothing is taken, when another session (another replica) holds it.
// release frees the lock and closes the connection; should this process
// die first, its session ends and the server frees the lock. The rollout
// controller holds "drill:MODEL" for a fire drill's length, so that a drill
// on one replica and a drill or rollout of the same model on another do not
// overlap; a rollout's start looks at it inside its own transaction
// (sluice.Change.Unheld), which then keeps TryHold from taking it until
// the commit.
//
// The connection is opened for the hold, outside the pool: a hold keeps
// its session for as long as it is held (a drill's seconds), and holds
// taken from the pool left the pool's other callers, the drills' own
// changes among them, none to work with: as many drills at once as the
// pool has connections stalled the store's every call. A server with no
// connection slot left refuses the hold at once (CodeUnavailable).
func (s *Store) TryHold(ctx context.Context, name string) (release func(), held bool, err error) {
	op := "take the " + name + " lock"
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	conn, err := s.connectHold(ctx)
	if err != nil {
		return nil, false, s.mapErr(ctx, op, err)
	}
	closeConn := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Close(cctx)
	}
	key := s.holdKey(name)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key).Scan(&got); err != nil {
		closeConn()
		return nil, false, s.mapErr(ctx, op, err)
	}
	if !got {
		closeConn()
		return nil, false, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// Unlocked first, so the lock is free when release returns:
			// the server frees a closed session's locks only once it has
			// noticed the close. Should the unlock fail, the close frees it.
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn.Exec(uctx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
			closeConn()
		})
	}, true, nil
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
