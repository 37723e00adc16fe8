package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestCLI_TokenListFileTokenExpiry: sluice token list showed a config file
// token as never expiring (the file had no expiry); one given
// tokens[i].expires now shows it, and "expired" once it has passed.
func TestCLI_TokenListFileTokenExpiry(t *testing.T) {
	const opsSecret, ciSecret = "cli-file-ops-secret-41b7", "cli-file-ci-secret-9e02"
	now := time.Now()
	cfg, err := config.ParseGateway("sluice.yaml", []byte("listen: 127.0.0.1:0\nstore: "+filepath.Join(t.TempDir(), "sluice.db")+"\n"+
		"tokens:\n  - {name: ops, role: admin, secret: "+opsSecret+"}\n"+
		"  - {name: ci-file, role: viewer, secret: "+ciSecret+", expires: 2099-03-01T12:30:00Z}\n"+
		"  - {name: old-file, role: viewer, secret: "+ciSecret+"-old, expires: 2020-01-01}\n"))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := server.New(context.Background(), server.Options{Config: cfg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	list := mustRun(t, "token", "list", "--server", gw.AdminURL(), "--token", opsSecret)
	rows := map[string]string{}
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for name, want := range map[string]string{
		"ops":      "admin config - never -",
		"ci-file":  "viewer config - 2099-03-01 12:30 -",
		"old-file": "viewer config - expired 2020-01-01 00:00 -",
	} {
		if rows[name] != want {
			t.Errorf("token list row of %s = %q, want %q; the list:\n%s", name, rows[name], want, list)
		}
	}
	if strings.Contains(list, ciSecret) || strings.Contains(list, opsSecret) {
		t.Errorf("token list shows a secret:\n%s", list)
	}
}
