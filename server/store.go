package server

import (
	"context"
	"log/slog"
	"strings"

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
	return openStore(ctx, store, nil)
}

// openStore is OpenStore with the store's migrations logged to logger.
func openStore(ctx context.Context, store string, logger *slog.Logger) (sluice.Store, error) {
	if IsPostgresDSN(store) {
		return postgres.OpenOptions(ctx, store, postgres.Options{Logger: logger})
	}
	// The lock first: a refused gateway (a newer binary during an
	// overlapping upgrade) must not migrate the schema under the running one.
	lock, err := lockSQLite(store)
	if err != nil {
		return nil, err
	}
	st, err := sqlite.OpenOptions(store, sqlite.Options{Logger: logger})
	if err != nil {
		lock.Close()
		return nil, err
	}
	return &lockedStore{Store: st, lock: lock}, nil
}
