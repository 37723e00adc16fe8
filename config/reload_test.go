package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestLoadGateway_FilesAndReload: a load says which files its ${file:}
// references read (what reload.watch watches): each named in a value, once,
// not one in a comment nor one in a key the command line replaces; and
// reload takes files (default), config or off, every few seconds.
func TestLoadGateway_FilesAndReload(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, []byte("v-0123456789\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(dir, "sluice.yaml")
	write := func(text string) {
		if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`# old: ${file:/etc/old-key}
store: "${file:/run/no-such-store}"
backends:
  - {match: "http://127.0.0.1:9", headers: {Authorization: "Bearer ${file:` + a + `}", X-Other: "${file:` + b + `}"}}
  - {match: "http://127.0.0.1:10", headers: {Authorization: "Bearer ${file:` + a + `}"}}
`)
	g, err := config.LoadGatewayOver(cfgFile, config.Override{Store: filepath.Join(dir, "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a, b}; !slices.Equal(g.Files, want) {
		t.Errorf("Files = %q, want %q", g.Files, want)
	}
	if g.Reload.Watch != "files" || g.Reload.Interval != 5*time.Second {
		t.Errorf("reload = %+v, want watch files every 5s", g.Reload)
	}

	for text, want := range map[string]string{
		"reload: {watch: always}\n":  `reload.watch: "always" is not what Sluice watches; use files`,
		"reload: {interval: 10ms}\n": "reload.interval: 10ms is too short",
	} {
		write(text)
		if _, err := config.LoadGateway(cfgFile); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", text, err, want)
		}
	}
	write("reload: {watch: Config, interval: 1s}\n")
	if g, err := config.LoadGateway(cfgFile); err != nil || g.Reload.Watch != "config" || g.Reload.Interval != time.Second {
		t.Errorf("reload: %+v, %v; want watch config every 1s", g.Reload, err)
	}
}
