package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/sqlite"
)

// IsPostgresDSN reports whether store names a PostgreSQL server (a
// postgres:// or postgresql:// URL) rather than an SQLite file.
func IsPostgresDSN(store string) bool {
	return strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://")
}

// OpenStore opens the store the configuration's store setting names: a
// postgres:// or postgresql:// URL opens the PostgreSQL store, which several
// replicas can share; anything else is the path of an SQLite file, which
// one gateway at a time may open (lockSQLite).
func OpenStore(ctx context.Context, store string) (sluice.Store, error) {
	return openStore(ctx, store, nil, nil, false)
}

// OpenSourceStore is OpenStore for a store only read from (sluice store
// copy's SRC): an SQLite file this user may read but not write, or a
// PostgreSQL standby or read-only role, opens, as reading it needs no
// write, where the gateway's open refuses it.
func OpenSourceStore(ctx context.Context, store string) (sluice.Store, error) {
	return openStore(ctx, store, nil, nil, true)
}

// openStore is OpenStore with the store's migrations logged to logger and,
// on PostgreSQL, reported to migrating as they go (postgres.Options.Migrating);
// source opens a store this user cannot write (sqlite.Options.NoWriteCheck,
// postgres.Options.NoWriteCheck).
func openStore(ctx context.Context, store string, logger *slog.Logger, migrating func(postgres.MigrationState), source bool) (sluice.Store, error) {
	if IsPostgresDSN(store) {
		return postgres.OpenOptions(ctx, store, postgres.Options{Logger: logger, Migrating: migrating, NoWriteCheck: source})
	}
	// The lock first: a refused gateway (a newer binary during an
	// overlapping upgrade) must not migrate the schema under the running one.
	lock, err := lockSQLite(store)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.OpenOptions(store, sqlite.Options{Logger: logger, NoWriteCheck: source})
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &lockedStore{Store: st, lock: lock}, nil
}

// openStoreWaiting is openStore that, for a PostgreSQL store not reachable
// or not accepting connections yet (postgres.NotReady), tries again with
// a growing pause (1s, 2s, 4s, then every 10s) until wait has passed,
// logging each failed try with its error, so a replica started during an
// outage comes up when the server returns rather than exiting into a
// supervisor's back-off. Any other error (credentials, no such database,
// a schema newer than this binary) ends it at once, as does ctx (SIGTERM
// while it waits). wait 0 gives up at the first failure.
//
// waiting, if set, is told each failure it waits after (Server.storeWaiting
// listens meanwhile); migrating, if set, what the store's migrations do
// (Server.storeMigrating).
func openStoreWaiting(ctx context.Context, store string, wait time.Duration, logger *slog.Logger, waiting func(error), migrating func(postgres.MigrationState)) (sluice.Store, error) {
	start := time.Now()
	pause := time.Second
	for try := 1; ; try++ {
		st, err := openStore(ctx, store, logger, migrating, false)
		if err == nil {
			if try > 1 && logger != nil {
				logger.Info("store: PostgreSQL reached; starting", "waited", time.Since(start).Round(time.Millisecond), "tries", try)
			}
			return st, nil
		}
		if !postgres.NotReady(err) || wait <= 0 {
			return nil, err
		}
		left := wait - time.Since(start)
		if left <= 0 {
			return nil, sluice.Errorf(sluice.ErrorCode(err), "%s (waited %s for it, %d tries: raise store_wait to wait longer)", sluice.ErrorMessage(err), time.Since(start).Round(time.Second), try)
		}
		next := min(pause, left)
		if waiting != nil {
			waiting(err)
		}
		if logger != nil {
			logger.Warn("store: PostgreSQL not reachable yet; waiting for it (store_wait)", "err", err, "try", try, "retry_in", next.Round(time.Millisecond), "gives_up_in", left.Round(time.Second))
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, sluice.Errorf(sluice.CodeUnavailable, "open store: stopped while waiting for PostgreSQL (%v); the last try: %s", ctx.Err(), sluice.ErrorMessage(err))
		case <-t.C:
		}
		pause *= 2
		if pause > 4*time.Second {
			pause = 10 * time.Second // 1 s, 2 s, 4 s, then every 10 s, as documented: not 8 s first
		}
	}
}
