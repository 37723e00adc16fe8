package postgres

import (
	"context"
	"sync"
	"time"
)

// TryHold takes the session advisory lock called name (within this store's
// schema) on a pool connection of its own, without waiting: held is false,
// and nothing is taken, when another session (another replica) holds it.
// release frees the lock and returns the connection; should this process
// die first, its session ends and the server frees the lock. The rollout
// controller holds "drill:MODEL" for a fire drill's length, so that a drill
// on one replica and a drill or rollout of the same model on another do not
// overlap; a rollout's start looks at it inside its own transaction
// (sluice.Change.Unheld), which then keeps TryHold from taking it until
// the commit.
func (s *Store) TryHold(ctx context.Context, name string) (release func(), held bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, s.mapErr(ctx, "take the "+name+" lock", err)
	}
	key := s.holdKey(name)
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key).Scan(&got); err != nil {
		conn.Release()
		return nil, false, s.mapErr(ctx, "take the "+name+" lock", err)
	}
	if !got {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key); err != nil {
				// The connection is suspect: closing it ends the session,
				// which frees the lock.
				conn.Conn().Close(uctx)
			}
			conn.Release()
		})
	}, true, nil
}

// holdKey is the advisory lock key, hashed by the server, of the hold
// called name in this store's schema.
func (s *Store) holdKey(name string) string { return "sluice:" + name + ":" + s.schema }
