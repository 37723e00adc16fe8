package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
)

// TestServer_ReloadConfigSaysWhatIsTrue: a reload logged "backend headers
// reloaded" whether or not anything changed, so an SRE rotating a key
// could not tell from the log that the gateway read the same one; and a
// file that did not load was logged as leaving client keys, admin tokens
// and backend headers unchanged, not saying that log.level is unchanged
// too or that other settings take a restart. Now a reload that finds the
// same headers says they are unchanged, one that changes them says
// reloaded, and a failed one names everything a reload applies.
func TestServer_ReloadConfigSaysWhatIsTrue(t *testing.T) {
	var logs syncBuffer
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "sluice.yaml")
	write := func(key string) {
		text := "backends:\n  - {match: \"http://127.0.0.1:9\", headers: {Authorization: \"Bearer " + key + "\"}}\n"
		if err := os.WriteFile(cfgFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("key-one")
	loaded, err := config.LoadGateway(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Backends = loaded.Backends }, &logs, sluice.ApplyDoc{})
	ctx := context.Background()
	since := func() func() string {
		n := len(logs.String())
		return func() string { return logs.String()[n:] }
	}

	// The same file again: unchanged.
	log := since()
	if _, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); !ok {
		t.Fatalf("reload of the same file failed:\n%s", log())
	}
	if l := log(); strings.Contains(l, "backend headers reloaded") || !strings.Contains(l, "backend headers unchanged") {
		t.Errorf("a reload that changed no header logged:\n%s\nwant \"backend headers unchanged\" and not \"reloaded\"", l)
	}

	// A new key: reloaded.
	write("key-two")
	log = since()
	if _, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); !ok {
		t.Fatalf("reload failed:\n%s", log())
	}
	if l := log(); !strings.Contains(l, "backend headers reloaded") || strings.Contains(l, "backend headers unchanged") {
		t.Errorf("a reload that changed a header logged:\n%s\nwant \"backend headers reloaded\"", l)
	}

	// A file that does not load: every setting a reload applies named.
	if err := os.WriteFile(cfgFile, []byte("listn: 127.0.0.1:8080\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	log = since()
	if ncfg, _, _, ok := gw.ReloadConfig(ctx, cfgFile, config.Override{}); ncfg != nil || ok {
		t.Fatal("a file that does not load was applied")
	}
	l := log()
	for _, want := range []string{"did not load", "admin tokens unchanged", "client keys unchanged", "backend headers unchanged", "log.level unchanged", "restart"} {
		if !strings.Contains(l, want) {
			t.Errorf("the failed reload's log does not say %q:\n%s", want, l)
		}
	}
	for _, k := range []string{"key-one", "key-two"} {
		if strings.Contains(logs.String(), k) {
			t.Errorf("the log holds a backend key:\n%s", logs.String())
		}
	}
}
