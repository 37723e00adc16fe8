package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/server"
)

// What the user does: runs a gateway on `store: /var/lib/sluice/sluice.db`
// and starts a second one (a blue/green restart that overlaps, a second unit
// on another port) whose config names the same database through a symlink to
// the file, e.g. `store: /etc/sluice/current.db` -> /var/lib/sluice/sluice.db
// (SQLite follows the link: same database, same WAL).
// What happens now: both open it. The lock is taken on the path as written
// plus ".lock" ("/etc/sluice/current.db.lock" and
// "/var/lib/sluice/sluice.db.lock" are two different files), so the refusal
// added for a second gateway on one SQLite file does not happen, and the
// second gateway never sees the first's rollbacks (the bug the lock was
// added for).
// What should happen: the lock follows the database file itself (resolve
// the symlink first, or lock the database file), so the second open is
// refused naming the holder, as it is for the same path.
func TestSQLiteLockFollowsSymlinks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	real := filepath.Join(dir, "sluice.db")
	first, err := server.OpenStore(ctx, real)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	// Sanity: the same path is refused.
	if st, err := server.OpenStore(ctx, real); err == nil {
		st.Close()
		t.Fatal("fixture: the lock does not refuse even the same path")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("fixture: same path refused for another reason: %v", err)
	}

	link := fileLink(t, dir, real)
	st, err := server.OpenStore(ctx, link)
	if err == nil {
		st.Close()
		t.Fatalf("a second gateway opened %s, a symlink to the SQLite file the running gateway holds (%s): the lock is on the path as written, not on the file", link, real)
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("refused for another reason: %v", err)
	}
}

func fileLink(t *testing.T, dir, target string) string {
	link := filepath.Join(dir, "current.db")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}
