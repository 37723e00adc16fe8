package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// The reload.watch record is what was applied: each file's state as the
// load that applied it read it. These tests run the steps serve's loop
// runs (load at start, newFileWatch; on a reload: now, the load, set with
// applied) with a file changed between them, and look twice, as two ticks
// of reload.interval do.

// appliedFixture is a config file taking a backend header from key, with
// reload.watch: config.
func appliedFixture(t *testing.T, refs ...string) (cfgPath string, write func(path, content string)) {
	t.Helper()
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "sluice.yaml")
	write = func(path, content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := "store: " + filepath.Join(dir, "sluice.db") + "\nreload: {watch: config, interval: 1s}\n"
	if len(refs) > 0 {
		text += "backends:\n"
		for i, r := range refs {
			text += "  - match: http://b" + string(rune('0'+i)) + ".example\n    headers: {Authorization: \"Bearer ${file:" + r + "}\"}\n"
		}
	}
	write(cfgPath, text)
	return cfgPath, write
}

func load(t *testing.T, path string) config.Gateway {
	t.Helper()
	g, err := config.LoadGatewayOver(path, config.Override{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// twoLooks returns the paths the watch reports over two looks.
func twoLooks(w *fileWatch) []string {
	var out []string
	for range 2 {
		for _, c := range w.changed() {
			out = append(out, c.path)
		}
	}
	return out
}

// TestFileWatch_SIGHUPReloadIsNotFollowedByAnother: a key file changed,
// then SIGHUP sent before the watch looked: the SIGHUP's reload applied
// the new key, and the watch runs no second reload for it. Before, the
// watch still measured from the old key, so its next looks reloaded
// again.
func TestFileWatch_SIGHUPReloadIsNotFollowedByAnother(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	cfgPath, write := appliedFixture(t, key)
	write(key, "one")
	cfg := load(t, cfgPath)
	w := newFileWatch(watchedFiles(cfg, cfg, cfgPath), cfg.FileStates)
	if got := twoLooks(w); len(got) != 0 {
		t.Fatalf("nothing changed, watch reported %q", got)
	}

	write(key, "two")
	before := w.now() // SIGHUP
	ncfg := load(t, cfgPath)
	w.set(watchedFiles(cfg, ncfg, cfgPath), applied(before, ncfg.FileStates))
	if got := twoLooks(w); len(got) != 0 {
		t.Errorf("after a SIGHUP reload read the change, the watch reported %q again (an extra reload)", got)
	}
}

// TestFileWatch_ChangeWhileStartingIsNoticed: a key file changed after the
// gateway read its config and before the watch took its first record is
// reloaded at the next looks. Before, the watch took the file as it found
// it, so the gateway kept the key it started with until the file changed
// again.
func TestFileWatch_ChangeWhileStartingIsNoticed(t *testing.T) {
	key := filepath.Join(t.TempDir(), "key")
	cfgPath, write := appliedFixture(t, key)
	write(key, "one")
	cfg := load(t, cfgPath)
	write(key, "two") // while the gateway starts
	w := newFileWatch(watchedFiles(cfg, cfg, cfgPath), cfg.FileStates)
	if got := twoLooks(w); len(got) != 1 || got[0] != key {
		t.Errorf("a key changed while the gateway started: watch reported %q, want %s", got, key)
	}
}

// TestFileWatch_ChangeJustAfterAReloadAddedTheFileIsNoticed: the config
// is edited to take a key from a new file; the reload reads it; the file
// changes before the watch set is renewed. The change reloads at the next
// looks. Before, the new file was taken as found, after the change, and
// the key read by the reload stayed in force.
func TestFileWatch_ChangeJustAfterAReloadAddedTheFileIsNoticed(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	cfgPath, write := appliedFixture(t)
	cfg := load(t, cfgPath)
	w := newFileWatch(watchedFiles(cfg, cfg, cfgPath), cfg.FileStates)
	if got := twoLooks(w); len(got) != 0 {
		t.Fatalf("nothing changed, watch reported %q", got)
	}

	write(key, "one")
	edited, _ := appliedFixture(t, key)
	b, err := os.ReadFile(edited)
	if err != nil {
		t.Fatal(err)
	}
	write(cfgPath, string(b))
	if got := twoLooks(w); len(got) != 1 || got[0] != cfgPath {
		t.Fatalf("config file edited: watch reported %q, want %s", got, cfgPath)
	}
	before := w.now()
	ncfg := load(t, cfgPath)
	write(key, "two") // before the watch set is renewed
	w.set(watchedFiles(cfg, ncfg, cfgPath), applied(before, ncfg.FileStates))
	if got := twoLooks(w); len(got) != 1 || got[0] != key {
		t.Errorf("a file changed just after the reload that added it: watch reported %q, want %s", got, key)
	}
}
