package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// mapErr turns an error from SQLite into what a user can act on: a
// *sluice.Error passes through, a file that cannot be locked, written or read
// becomes CodeUnavailable saying why, and anything else is wrapped with the
// operation and the store's path.
func (s *Store) mapErr(ctx context.Context, op string, write bool, err error) error {
	if err == nil {
		return nil
	}
	var se *sluice.Error
	if errors.As(err, &se) {
		return err
	}
	// A canceled operation surfaces from SQLite as "interrupted"; report the
	// cause instead.
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", op, ctx.Err())
	}
	var le *sqlite.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("%s: store %s: %w", op, s.path, err)
	}
	why, ok := explain(le, s.opts.BusyTimeout)
	if !ok {
		return fmt.Errorf("%s: store %s: %w", op, s.path, err)
	}
	can := "read"
	if write {
		can = "written"
	}
	return sluice.Errorf(sluice.CodeUnavailable, "%s: store %s cannot be %s: %s", op, s.path, can, why)
}

// explain says why SQLite could not use the file and what to do, for the
// errors that are about the file rather than the query.
func explain(le *sqlite.Error, busy time.Duration) (string, bool) {
	switch le.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return fmt.Sprintf("the database is locked by another connection or process and stayed locked for the busy timeout of %s (%v): stop the other writer or try again", busy, le), true
	case sqlite3.SQLITE_READONLY:
		return fmt.Sprintf("the database is read-only (%v): check that the file, its -wal and -shm files (left by another user, such as root, if there) and their directory are writable by this user, and that the store was not opened read-only", le), true
	case sqlite3.SQLITE_FULL:
		return fmt.Sprintf("the disk is full (%v): free some space", le), true
	case sqlite3.SQLITE_IOERR:
		// A file made read-only under an open descriptor (chattr +i, a
		// read-only remount) fails its writes with EPERM or EROFS, which
		// SQLite reports as an I/O error, not as SQLITE_READONLY.
		return fmt.Sprintf("the file system refused a read or write (%v): check the disk, and that the file, its -wal and -shm files and their directory are not read-only (a read-only mount, or immutable: see lsattr)", le), true
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		return fmt.Sprintf("the file cannot be opened (%v): check the file and its directory exist and are writable by this user", le), true
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return fmt.Sprintf("the file is not a usable SQLite database (%v): restore it from a backup or choose another path", le), true
	}
	return "", false
}

// isDiskFull reports whether err is SQLite's disk full.
func isDiskFull(err error) bool {
	var le *sqlite.Error
	return errors.As(err, &le) && le.Code()&0xff == sqlite3.SQLITE_FULL
}

// sizeMB returns the size of the store's file, rounded up to a megabyte,
// as "N MB".
func (s *Store) sizeMB() string {
	fi, err := os.Stat(s.path)
	if err != nil {
		return "as much as the store's size"
	}
	return strconv.FormatInt((fi.Size()+999_999)/1_000_000, 10) + " MB"
}

// openErr maps an error met while opening the store.
func (s *Store) openErr(err error) error {
	var le *sqlite.Error
	if errors.As(err, &le) {
		if why, ok := explain(le, s.opts.BusyTimeout); ok {
			return sluice.Errorf(sluice.CodeUnavailable, "open store %s: %s", s.path, why)
		}
	}
	return sluice.Errorf(sluice.CodeUnavailable, "open store %s: %v: check the file is a sluice store and is writable", s.path, err)
}

// isBusy reports whether err is SQLite's busy or locked: another
// connection or process holds the lock.
func isBusy(err error) bool {
	var le *sqlite.Error
	return errors.As(err, &le) && (le.Code()&0xff == sqlite3.SQLITE_BUSY || le.Code()&0xff == sqlite3.SQLITE_LOCKED)
}

// isForeignKey reports whether err is a foreign key constraint failure.
func isForeignKey(err error) bool {
	var le *sqlite.Error
	return errors.As(err, &le) && le.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
