package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ sluice.Store = (*Store)(nil)

// DefaultBusyTimeout is how long a write waits for another process's lock
// on the file when Options.BusyTimeout is zero.
const DefaultBusyTimeout = 5 * time.Second

// Options tunes OpenOptions. The zero value is what Open uses.
type Options struct {
	// BusyTimeout is how long a write waits while another process holds the
	// write lock before it fails with CodeUnavailable. Zero means
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// ReadOnly opens an existing, migrated store for reading only: the file
	// is neither created nor migrated, and every write fails with
	// CodeUnavailable.
	ReadOnly bool
	// Now stamps audit entries and request rows whose time is zero. Nil
	// means time.Now.
	Now func() time.Time
	// Logger gets an info record for each migration Open applies (a
	// rolling upgrade then shows which replica migrated the store). Nil
	// means none.
	Logger *slog.Logger
	// NoWriteCheck opens a file this user may read but not write rather
	// than refusing it (checkWritable), its writes failing when made: for
	// a store only read from, sluice store copy's SRC.
	NoWriteCheck bool
}

// Store is the sluice.Store on one SQLite file. It is safe for concurrent
// use. Writes go through a single connection that starts every transaction
// with BEGIN IMMEDIATE, so writers in this process queue in Go and writers in
// other processes wait up to the busy timeout, instead of deadlocking on a
// read lock that cannot be upgraded. Reads use a separate pool and, in WAL
// mode, never wait for a writer.
type Store struct {
	path string
	opts Options
	now  func() time.Time

	w *sql.DB // one connection, BEGIN IMMEDIATE
	r *sql.DB // readers, query_only

	// legacy is true while the request log's table from before migration
	// 0003 still holds rows (sqlite/legacy.go).
	legacy atomic.Bool

	// segmentsPassed counts the request log segments a read passed over
	// on their dictionary alone, their rows never decoded (tests read
	// it: a skip is otherwise seen only in the time it saves).
	segmentsPassed atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store in the SQLite file at path, creating the file when it
// does not exist, switching it to WAL mode and applying any migrations it
// lacks.
func Open(path string) (*Store, error) {
	return OpenOptions(path, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(path string, o Options) (*Store, error) {
	if path == "" {
		return nil, sluice.Errorf(sluice.CodeInvalid, "open store: no path given: name the SQLite file, such as ./sluice.db")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := checkPath(abs, o.ReadOnly); err != nil {
		return nil, err
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	s := &Store{path: abs, opts: o, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}

	ctx := context.Background()
	s.w, err = sql.Open("sqlite", s.dsn(true))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	// One writer connection: writes in this process queue for it rather than
	// contend for SQLite's file lock.
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.w.PingContext(ctx); err != nil {
		s.w.Close()
		return nil, s.openErr(err)
	}
	if !o.ReadOnly {
		var mode string
		if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
			s.w.Close()
			return nil, s.openErr(err)
		}
		if mode != "wal" {
			s.w.Close()
			return nil, sluice.Errorf(sluice.CodeUnavailable, "open store %s: SQLite kept journal mode %q instead of wal: put the file on a local file system that supports shared memory", abs, mode)
		}
	}
	if err := s.migrate(ctx); err != nil {
		s.w.Close()
		return nil, err
	}
	if !o.ReadOnly && !o.NoWriteCheck {
		if err := s.checkWritable(ctx); err != nil {
			s.w.Close()
			return nil, err
		}
	}
	legacy, err := hasLegacyRequests(ctx, s.w)
	if err != nil {
		s.w.Close()
		return nil, s.openErr(err)
	}
	s.legacy.Store(legacy)

	s.r, err = sql.Open("sqlite", s.dsn(false))
	if err != nil {
		s.w.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	s.r.SetMaxOpenConns(4)
	s.r.SetMaxIdleConns(4)
	if err := s.r.PingContext(ctx); err != nil {
		s.Close()
		return nil, s.openErr(err)
	}
	return s, nil
}

// checkPath turns the commonest mistakes with a store path into messages
// that say what to do, before SQLite reports them as "unable to open".
func checkPath(path string, readOnly bool) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return sluice.Errorf(sluice.CodeInvalid, "open store %s: it is a directory: give the path of a database file, such as %s", path, filepath.Join(path, "sluice.db"))
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: %v: check the file and its directory are readable and writable by this user", path, err)
	case readOnly:
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: the file does not exist: a read-only store must already exist; open it once read-write to create it", path)
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: the directory %s does not exist: create it or choose another path", path, dir)
	case err != nil:
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: %v: check the directory is writable by this user", path, err)
	case !di.IsDir():
		return sluice.Errorf(sluice.CodeUnavailable, "open store %s: %s is not a directory: choose a path inside a directory", path, dir)
	}
	return nil
}

// checkWritable writes a row in a transaction it rolls back, so nothing is
// written. SQLite opens a file this user may read but not write read-only,
// without a word, and a store already migrated needs no write to open: the
// gateway then served with every request log row and every change failing,
// so the open is refused instead, saying why. The write is needed: on such
// a file BEGIN IMMEDIATE quietly starts a read transaction. A store whose
// write lock another process holds opens as before, at once (the probe
// does not wait for the lock): its writes are the holder's to let go.
func (s *Store) checkWritable(ctx context.Context) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return s.openErr(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return s.openErr(err)
	}
	defer conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10))
	if _, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err == nil {
		_, err = conn.ExecContext(ctx, "UPDATE meta SET revision = revision WHERE id = 1")
		conn.ExecContext(ctx, "ROLLBACK")
	}
	if err != nil && !isBusy(err) {
		return s.openErr(err)
	}
	return nil
}

// dsn builds the modernc.org/sqlite data source name. The file: URI form
// lets SQLite itself see mode=ro and keeps a '?' or '#' in the path from
// being taken for a query.
func (s *Store) dsn(writer bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10))
	q.Set("_foreign_keys", "on")
	// FULL: an acknowledged change survives a power loss or an OS crash,
	// not only a killed process (NORMAL in WAL mode may lose the last
	// commits then). Commits are few (admin changes, and request-log
	// batches a few times a second), so the fsync each costs is cheap.
	q.Set("_synchronous", "FULL")
	q.Set("_error_rc", "1")
	if writer {
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "on")
	}
	if s.opts.ReadOnly {
		q.Set("mode", "ro")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(s.path), RawQuery: q.Encode()}
	return u.String()
}

// Path returns the absolute path of the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store. It may be called more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if s.r != nil {
			errs = append(errs, s.r.Close())
		}
		if s.w != nil {
			errs = append(errs, s.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("close store %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// write runs fn in one write transaction and maps its error.
func (s *Store) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return s.mapErr(ctx, op, true, s.writeRaw(ctx, fn))
}

// writeRaw runs fn in one write transaction and returns its error as
// SQLite or fn gave it, for a caller that looks at it before mapping it.
func (s *Store) writeRaw(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in one read transaction, so everything it reads is from one
// snapshot.
func (s *Store) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(ctx, op, false, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return s.mapErr(ctx, op, false, err)
	}
	return nil
}
