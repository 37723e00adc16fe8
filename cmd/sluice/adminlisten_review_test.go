package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestCLIOnDataPortWithAdminListen: a gateway with admin_listen set
// (the README: "serve /admin/v1/, /metrics, /readyz on a separate
// address"), and a user whose SLUICE_SERVER still points at the data plane
// (the CLI's default, http://127.0.0.1:8080, is the default `listen`).
// `sluice get models` now fails with "the server answered 404 Not Found:
// 404 page not found: check that the address points at a sluice server" —
// it is a sluice server, so the hint sends the user the wrong way. The
// data plane should answer /admin/ with an error that says the admin API
// is on admin_listen (ideally naming the address), and the CLI print it.
func TestCLIOnDataPortWithAdminListen(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	token, err := gw.EnsureBootstrapToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if gw.URL() == gw.AdminURL() {
		t.Fatalf("admin_listen not apart: %s", gw.URL())
	}
	_, errOut, code := run(t, "get", "models", "--server", gw.URL(), "--token", token)
	if code == 0 {
		t.Fatal("get models against the data plane port succeeded")
	}
	if !strings.Contains(errOut, "admin_listen") && !strings.Contains(errOut, strings.TrimPrefix(gw.AdminURL(), "http://")) {
		t.Errorf("the error does not say the admin API is on admin_listen (%s):\n%s", gw.AdminURL(), errOut)
	}
}
