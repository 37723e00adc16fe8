package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sluicehq/sluice"
)

// lockedStore is an SQLite store held by this gateway alone: a second
// gateway on the same file would never see the first's changes (it reads
// the registry at start, on its own writes and on SIGHUP), so it kept
// routing to versions rolled back through the first, and both ran the same
// rollouts. Close releases the lock.
type lockedStore struct {
	sluice.Store
	lock *os.File
}

// Unwrap returns the SQLite store itself, for what only it implements
// (sluice.Importer, for sluice store copy).
func (s *lockedStore) Unwrap() sluice.Store { return s.Store }

func (s *lockedStore) Close() error {
	err := s.Store.Close()
	s.lock.Close() // closing the descriptor releases the flock
	return err
}

// lockSQLite takes an exclusive lock on path's lock file (path + ".lock"),
// which names the process holding it, or says which process does. Other
// programs may still open the file itself (a backup, an ops script).
func lockSQLite(path string) (*os.File, error) {
	// The lock goes beside the file itself, whatever symlinks name it (a
	// current.db -> sluice.db link must find the same lock).
	real := path
	if abs, err := filepath.Abs(path); err == nil {
		real = abs
	}
	if r, err := filepath.EvalSymlinks(real); err == nil {
		real = r
	} else if dir, err := filepath.EvalSymlinks(filepath.Dir(real)); err == nil {
		real = filepath.Join(dir, filepath.Base(real)) // the file does not exist yet
	} else {
		// No such directory: sqlite.Open says so.
		return nil, fmt.Errorf("store %s: the directory %s does not exist: create it, or name a file in a directory that exists", path, filepath.Dir(real))
	}
	if fi, err := os.Stat(real); err == nil && fi.IsDir() {
		// Refused before the lock file is made: it was left beside the
		// directory, and SQLite's open then failed with no word of why.
		return nil, fmt.Errorf("store %s is a directory: the store setting (--store, store: in the config) names the SQLite file itself, created if missing; pass a file in it, such as %s",
			path, filepath.Join(path, "sluice.db"))
	}
	name := real + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store %s: cannot create its lock file %s (%v): check the directory's permissions", path, name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if pid := strings.TrimSpace(string(b[:n])); pid != "" {
				holder = "process " + pid
			}
			return nil, fmt.Errorf("store %s is in use by another sluice gateway (%s): an SQLite store serves one gateway; stop the other, give this one its own file, or run several replicas on a shared PostgreSQL store (store: postgres://…)", path, holder)
		}
		return nil, fmt.Errorf("store %s: cannot lock %s (%v)", path, name, err)
	}
	if holder := sqliteInUse(real); holder != "" {
		f.Close()
		return nil, fmt.Errorf("store %s is in use by another process (%s holds SQLite's lock on %s-shm): an SQLite store serves one gateway; if it is a gateway of an earlier release, which takes no lock file, stop it first, or run several replicas on a shared PostgreSQL store (store: postgres://…)", path, holder, filepath.Base(real))
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// sqliteInUse says which process holds a lock on the WAL index (real +
// "-shm") of an SQLite file in WAL mode, as every open connection does:
// a gateway of a release before the lock file, or any other program with
// the database open. "" when none does. It must run before this process
// opens the database: closing the descriptor drops this process's POSIX
// locks on the file, SQLite's own included.
func sqliteInUse(real string) string {
	shm, err := os.OpenFile(real+"-shm", os.O_RDWR, 0)
	if err != nil {
		return "" // no WAL index: no connection open
	}
	defer shm.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(shm.Fd(), syscall.F_GETLK, &lk); err != nil || lk.Type == syscall.F_UNLCK {
		return ""
	}
	return "process " + strconv.Itoa(int(lk.Pid))
}
