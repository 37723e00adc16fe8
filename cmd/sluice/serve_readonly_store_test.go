//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/fsattr"
	"github.com/sluicehq/sluice/sqlite"
)

// What the user does: sluice serve --store on an SQLite file this user may
// read but not write (made by another user, or by root before the service
// ran as its own user), in a directory it may write.
// What must happen: the start is refused, naming the file and saying it
// cannot be written and what to check. SQLite opens such a file read-only
// without a word, and the gateway started: "sluice listening", /readyz
// 200, the data plane served, while every request log row failed (retried
// for ever, lost at the exit) and every change was a 500, so the operator
// learned of it at the first change, with the log of the hours before gone.
// (With a models_file the start failed, but only because that apply
// writes.)
func TestServe_ReadOnlyStoreFileRefused(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "sluice.db")
	// A store made and closed by another run (the file exists, migrated).
	st, err := sqlite.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	makeReadOnly(t, store)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, stderr strings.Builder
	start := time.Now()
	code := Main(ctx, []string{"serve", "--store", store, "--listen", "127.0.0.1:0"}, strings.NewReader(""), &out, &stderr)
	if ctx.Err() != nil {
		t.Fatalf("serve on a read-only store file ran until the test stopped it (%s, exit %d): it must refuse to start; stderr:\n%s", time.Since(start).Round(time.Millisecond), code, stderr.String())
	}
	want := "open store " + store + ": the database is read-only"
	if code == 0 || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "writable by this user") || !strings.Contains(stderr.String(), "its -wal and -shm files") {
		t.Errorf("serve on a read-only store file: exit %d, stderr %q; want a refusal containing %q and what to check", code, stderr.String(), want)
	}
	if strings.Contains(out.String()+stderr.String(), "sluice listening") {
		t.Errorf("serve said it listens on a store it cannot write:\n%s%s", out.String(), stderr.String())
	}
}

// makeReadOnly makes path unwritable by this process: chmod 0444, which
// holds for a user other than root, and for root the immutable attribute
// (chattr +i), which holds for root too; both are undone when the test ends.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o644) })
	if os.Geteuid() != 0 {
		return
	}
	if err := fsattr.SetImmutable(path, true); err != nil {
		t.Fatalf("cannot set the immutable attribute on %s (%v): as root, this test needs CAP_LINUX_IMMUTABLE and a file system with chattr +i (ext4, xfs, btrfs)", path, err)
	}
	t.Cleanup(func() {
		if err := fsattr.SetImmutable(path, false); err != nil {
			t.Errorf("chattr -i %s: %v", path, err)
		}
	})
}

// What the user does: sluice store copy --from an SQLite file this user may
// read but not write (a store left owned by the service's user, a backup
// kept read-only) into a new store.
// What must happen: the copy runs, as it did before the write check at
// open, and leaves SRC as it was: a copy only reads its source, so the
// refusal of a store that cannot be written is sluice serve's, not the
// copy's.
func TestStoreCopy_ReadOnlySourceFileCopies(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.db")
	copyFixture(t, src, 5)
	makeReadOnly(t, src)
	dst := filepath.Join(dir, "dst.db")
	var out, stderr strings.Builder
	code := Main(context.Background(), []string{"store", "copy", "--from", src, "--to", dst}, strings.NewReader(""), &out, &stderr)
	if code != 0 || !strings.Contains(out.String(), "SRC is left as it was") {
		t.Fatalf("store copy from a read-only SRC: exit %d; want the copy made\n%s%s", code, out.String(), stderr.String())
	}
	st, err := sqlite.OpenOptions(dst, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Requests != 5 {
		t.Errorf("DST holds %d request log rows, want SRC's 5", c.Requests)
	}
}
