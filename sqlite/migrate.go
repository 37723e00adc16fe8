package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one embedded schema change, named NNNN_what.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in the order they apply.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("embedded migration %s: name it NNNN_what.sql with NNNN a positive number", name)
		}
		b, err := migrationFiles.ReadFile("migrations/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("embedded migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// LatestSchema returns the version of the newest embedded migration: a
// store at a newer version is refused (a newer sluice migrated it).
func LatestSchema() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrationSteps are the parts of migrations that SQL cannot do, by
// version; each runs after its migration's SQL in the same transaction.
var migrationSteps = map[int]func(ctx context.Context, s *Store, tx *sql.Tx) error{
	3:  dropEmptyLegacyRequests,
	23: backfillSegmentDicts,
}

// migrationRoom says, by version, why a migration needs free disk about
// the store's size: it rewrites the bulk of the file in its one
// transaction, so an upgrade on a disk without that room fails with the
// disk full, and its error says how much to free.
var migrationRoom = map[int]string{
	23: "rewrites every request log segment (filling its dict column)",
}

// migrate applies the migrations the file lacks, each in its own
// transaction together with its schema_migrations row, so a failed
// migration leaves the schema as the previous one left it. A read-only
// store is only checked.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	latest := ms[len(ms)-1].version
	// Only read first: an up-to-date store opens without taking the write
	// lock, so a store that is read-only or locked by another process still
	// opens for reading, and its writes fail with a clear error later.
	have, err := s.schemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case have > latest:
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: its schema is at version %d but this sluice knows only up to %d: upgrade sluice", s.path, have, latest)
	case have == latest:
		return nil
	case s.opts.ReadOnly:
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: its schema is at version %d and needs migrating to %d, which a read-only store cannot do: open it read-write once", s.path, have, latest)
	}
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at INTEGER NOT NULL
	) STRICT`
	if _, err := s.w.ExecContext(ctx, create); err != nil {
		return s.openErr(err)
	}
	at := have // the schema the file is at, as each migration commits
	for _, m := range ms {
		start, applied := time.Now(), false
		op := "apply migration " + m.name
		raw := s.writeRaw(ctx, func(tx *sql.Tx) error {
			applied = false
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if step := migrationSteps[m.version]; step != nil {
				if err := step(ctx, s, tx); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, s.now().UnixNano())
			applied = err == nil
			return err
		})
		if raw != nil {
			err := s.mapErr(ctx, op, true, raw)
			if why := migrationRoom[m.version]; why != "" && isDiskFull(raw) {
				err = sluice.Errorf(sluice.CodeUnavailable, "%v: this migration %s in one transaction, so until it commits the store's -wal file grows to about the store's size: it needs %s free on the store's disk; make room and start sluice again (the store was left as it was, at schema %d)",
					err, why, s.sizeMB(), at)
			}
			return fmt.Errorf("open store: %w", err)
		}
		at = max(at, m.version)
		if applied && s.opts.Logger != nil {
			s.opts.Logger.Info("store migrated", "store", s.path, "version", m.version, "migration", m.name, "took", time.Since(start))
		}
	}
	// A checkpoint reuses the -wal file but never shrinks it, and a
	// migration that rewrote the request log (migrationRoom) grew it to
	// about the store's size: give that room back now, while no reader
	// is open, rather than hold it for as long as the gateway runs. A
	// checkpoint that cannot finish leaves the file as it was, which
	// still works.
	if at > have {
		if _, err := s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil && s.opts.Logger != nil {
			s.opts.Logger.Warn("store migrated, but its -wal file was not truncated: it keeps its size until sluice stops", "store", s.path, "err", err)
		}
	}
	return nil
}

// schemaVersion returns the highest migration applied to the file, 0 for
// a new file.
func (s *Store) schemaVersion(ctx context.Context) (int, error) {
	var ours, others int
	err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE name = 'schema_migrations'),
		COUNT(*) FILTER (WHERE name <> 'schema_migrations' AND name NOT LIKE 'sqlite\_%' ESCAPE '\')
		FROM sqlite_master WHERE type = 'table'`).Scan(&ours, &others)
	if err != nil {
		return 0, s.openErr(err)
	}
	switch {
	case ours == 0 && others > 0:
		return 0, sluice.Errorf(sluice.CodeUnavailable, "open store %s: the file is an SQLite database of something else (it has tables but no schema_migrations): choose another path", s.path)
	case ours == 0:
		return 0, nil
	}
	var have sql.NullInt64
	if err := s.w.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&have); err != nil {
		return 0, s.openErr(err)
	}
	return int(have.Int64), nil
}

// SchemaAt returns the schema version of the store file at path (0 for a
// file with no schema yet), read only: nothing is migrated, created or
// locked. sluice store copy asks it of its source before opening it, as
// opening a store migrates it.
func SchemaAt(ctx context.Context, path string) (int, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{path: abs, opts: Options{ReadOnly: true, BusyTimeout: DefaultBusyTimeout}, now: time.Now}
	s.w, err = sql.Open("sqlite", s.dsn(false))
	if err != nil {
		return 0, fmt.Errorf("open store %s: %w", abs, err)
	}
	defer s.w.Close()
	return s.schemaVersion(ctx)
}
