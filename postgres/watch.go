package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Watch calls fn for every commit made to the store's schema, by this
// process or any other, until ctx ends; it then returns ctx's error. fn
// gets the new registry revision, or 0 when something besides the registry
// changed (tokens) or when notices may have been missed: on the first
// connection and after every reconnection. A caller that reloads on every
// call therefore never stays behind for longer than a broken connection
// lasts.
//
// Watch holds one connection of its own (outside the pool) that LISTENs on
// the schema's channel; when it breaks, Watch connects again, waiting
// 100 ms and then twice as long each time up to 2 s. fn runs on Watch's
// goroutine and must be quick.
func (s *Store) Watch(ctx context.Context, fn func(rev int64)) error {
	const first, most = 100 * time.Millisecond, 2 * time.Second
	wait := first
	for {
		if s.listen(ctx, fn) {
			wait = first // it was connected: the next attempt starts afresh
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, most)
	}
}

// listen connects, LISTENs and delivers notices until the connection or
// ctx ends. It reports whether it got as far as listening.
func (s *Store) listen(ctx context.Context, fn func(rev int64)) bool {
	conn, err := s.connect(ctx)
	if err != nil {
		return false
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return false
	}
	fn(0)
	for {
		// Wake up now and then to prove the connection is alive: one that
		// went silent (no FIN, no RST) would otherwise wait for ever and
		// this replica would miss every change.
		wctx, cancel := context.WithTimeout(ctx, listenCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil && ctx.Err() == nil && wctx.Err() != nil {
			pctx, cancel := context.WithTimeout(ctx, listenCheck)
			err = conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
		}
		if err != nil {
			return true
		}
		rev, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			rev = 0
		}
		fn(rev)
	}
}

// listenCheck is how long the change listener waits for a notice before it
// pings its connection, and how long that ping may take.
const listenCheck = 5 * time.Second
