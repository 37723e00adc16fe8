package main

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestFileWatch_ReportsEachChangeOnce: the watch reports a file when what
// a reload would read of it changes and then holds for a second look, and
// only then: contents rewritten with the same size and time (a ..data
// symlink swapped to a directory whose file has the same length and
// mtime) count; the same bytes written again do not; a file caught half
// written is reported once, as it ends; a file gone for a moment is not
// reported, one gone for longer is reported once, not at every look (a
// reload that failed on it is not retried in a loop that floods the log),
// and again when it is back; a named pipe is reported without being opened
// (opening it would block the gateway's loop).
func TestFileWatch_ReportsEachChangeOnce(t *testing.T) {
	dir := t.TempDir()
	when := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	dated := func(name, content string) {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(d, "key")
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, when, when); err != nil {
			t.Fatal(err)
		}
	}
	swap := func(name string) {
		t.Helper()
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	dated("..a", "key-aaaa")
	swap("..a")
	key := filepath.Join(dir, "key")
	if err := os.Symlink("..data/key", key); err != nil {
		t.Fatal(err)
	}
	w := newFileWatch([]string{key}, nil)
	look := func(what string, want ...string) {
		t.Helper()
		got := w.changed()
		if len(got) != len(want) {
			t.Fatalf("%s: changed %v, want %v", what, got, want)
		}
		for i := range got {
			if got[i].path != key || got[i].now != want[i] {
				t.Fatalf("%s: changed %v, want %s now %v", what, got, key, want)
			}
		}
	}
	// expect looks twice: a change is reported once it holds.
	expect := func(what string, want ...string) {
		t.Helper()
		look(what + ", first look")
		look(what+", second look", want...)
	}
	expect("nothing done")

	dated("..b", "key-bbbb") // same length, same mtime
	swap("..b")
	expect("..data swapped", "rewritten")
	expect("looked at again")

	if err := os.WriteFile(filepath.Join(dir, "..b", "key"), []byte("key-bbbb"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect("the same bytes written again")

	// Half written: truncated at one look, whole at the next.
	half := filepath.Join(dir, "..b", "key")
	if err := os.WriteFile(half, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	look("truncated")
	if err := os.WriteFile(half, []byte("key-cccc"), 0o600); err != nil {
		t.Fatal(err)
	}
	look("written whole")
	look("whole, looked at again", "rewritten")
	look("whole, a third look")

	// Gone for a moment, between two looks.
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	look("gone")
	if err := os.Symlink("..data/key", key); err != nil {
		t.Fatal(err)
	}
	expect("back before a second look")

	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	expect("the file gone", "unreadable: missing")
	expect("still gone, looked at again")
	expect("still gone, a third look")

	if err := os.Symlink("..data/key", key); err != nil {
		t.Fatal(err)
	}
	expect("the file back", "rewritten")

	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(key, 0o600); err != nil {
		t.Fatal(err)
	}
	expect("a named pipe in its place", "not a regular file (p---------)")
	expect("the pipe looked at again")
}

// TestWatchedFiles: reload.watch files watches the ${file:} references'
// files and the certificates, config the config file too, off nothing.
func TestWatchedFiles(t *testing.T) {
	running := config.Default()
	running.TLS = config.TLS{CertFile: "/tls/crt", KeyFile: "/tls/key"}
	running.AdminTLS = config.TLS{CertFile: "/tls/crt", KeyFile: "/tls/key"}
	loaded := running
	loaded.Files = []string{"/s/a", "/s/b"}
	for watch, want := range map[string][]string{
		config.WatchFiles:  {"/s/a", "/s/b", "/tls/crt", "/tls/key"},
		config.WatchConfig: {"/etc/sluice.yaml", "/s/a", "/s/b", "/tls/crt", "/tls/key"},
		config.WatchOff:    nil,
	} {
		running.Reload.Watch = watch
		if got := watchedFiles(running, loaded, "/etc/sluice.yaml"); !slices.Equal(got, want) {
			t.Errorf("watch %s: %q, want %q", watch, got, want)
		}
	}
	running.Reload.Watch = config.WatchConfig
	if got := watchedFiles(running, loaded, ""); got != nil {
		t.Errorf("no config file: %q, want nothing", got)
	}
}

// TestFileWatch_PathNamedTwiceWaitsForSecondLook: a path given twice (the
// watch set after a failed reload joins what was watched and what the
// file now names) is watched once, so its change is reported only once it
// holds for a second look, as any other: looked at twice in one look, a
// file caught half written would be reported at once.
func TestFileWatch_PathNamedTwiceWaitsForSecondLook(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newFileWatch([]string{key, key}, nil)
	if len(w.paths) != 1 {
		t.Errorf("watching %q; want the path once", w.paths)
	}
	if err := os.WriteFile(key, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := w.changed(); len(got) != 0 {
		t.Fatalf("a change seen at one look only was reported: %v", got)
	}
	if got := w.changed(); len(got) != 1 || got[0].path != key {
		t.Fatalf("the change held for a second look: got %v, want %s once", got, key)
	}
}
