package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestLoadGatewayOver_FileStates: the load records the state of each file
// it read, the configuration file's too, in the form config.Fingerprint
// gives (what reload.watch compares with), a file missing included, so a
// load that failed on a missing file is not taken for a change at the
// watch's next look.
func TestLoadGatewayOver_FileStates(t *testing.T) {
	dir := t.TempDir()
	key, gone, cfg := filepath.Join(dir, "key"), filepath.Join(dir, "gone"), filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(key, []byte("k-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := "store: " + filepath.Join(dir, "s.db") + "\nbackends:\n  - match: http://a.example\n    headers: {Authorization: \"Bearer ${file:" + key + "}\"}\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := config.LoadGatewayOver(cfg, config.Override{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cfg, key} {
		if got, want := g.FileStates[p], config.Fingerprint(p); got != want || want[0] != '#' {
			t.Errorf("state of %s: %q, want %q", p, got, want)
		}
	}

	text += "  - match: http://b.example\n    headers: {Authorization: \"Bearer ${file:" + gone + "}\"}\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err = config.LoadGatewayOver(cfg, config.Override{})
	if err == nil {
		t.Fatal("a missing ${file:} loaded")
	}
	if got, want := g.FileStates[gone], config.Fingerprint(gone); got != want || want != "unreadable: missing" {
		t.Errorf("state of the missing file: %q, want %q", got, want)
	}
	if len(g.Files) != 2 || g.Files[1] != gone {
		t.Errorf("files of the failed load: %q, want %s and %s", g.Files, key, gone)
	}
}
