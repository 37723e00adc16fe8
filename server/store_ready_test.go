package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// storeReadyRE reads sluice_store_ready from a scrape.
var storeReadyRE = regexp.MustCompile(`(?m)^sluice_store_ready (\S+)$`)

// storeReady scrapes gw's sluice_store_ready.
func storeReady(t *testing.T, gw *server.Server) string {
	t.Helper()
	rec := httptest.NewRecorder()
	gw.Recorder.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	m := storeReadyRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("/metrics has no sluice_store_ready:\n%s", rec.Body.String())
	}
	return m[1]
}

// TestStoreReady_FollowsTheStore: sluice_store_ready said only that the
// gateway had opened its store at the start, and stayed 1 once PostgreSQL
// was lost. It now follows the store: 0 while the gateway cannot reach it
// (here a proxy in front of the real server cuts every connection and
// refuses new ones), 1 again once it can; and 0 while the store answers
// but refuses the gateway's writes (its role lost its privileges), as
// SQLite's does on a full disk.
func TestStoreReady_FollowsTheStore(t *testing.T) {
	dsn := pgtest.Schema(t)
	link := pgtest.NewProxy(t, dsn)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = link.DSN(dsn)
	cfg.RequestLog.FlushInterval = 50 * time.Millisecond
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	if got := storeReady(t, gw); got != "1" {
		t.Fatalf("sluice_store_ready once started: %s, want 1", got)
	}
	// Held at 1 for a few checks.
	time.Sleep(5 * time.Second)
	if got := storeReady(t, gw); got != "1" {
		t.Fatalf("sluice_store_ready with the store up: %s, want 1", got)
	}

	link.Cut()
	waitFor(t, "sluice_store_ready 0 with PostgreSQL cut off", 20*time.Second, func() bool { return storeReady(t, gw) == "0" })
	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "sluice_store_ready 1 with PostgreSQL back", 30*time.Second, func() bool { return storeReady(t, gw) == "1" })

	// Reads work, writes fail: the fleet's flushes and beats fail every
	// second.
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	admin := pgtest.DSN(t)
	pgtest.Exec(t, admin, "REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" FROM CURRENT_USER")
	granted := false
	t.Cleanup(func() {
		if !granted {
			pgtest.Exec(t, admin, "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" TO CURRENT_USER")
		}
	})
	waitFor(t, "sluice_store_ready 0 with the store's writes refused", 20*time.Second, func() bool { return storeReady(t, gw) == "0" })
	pgtest.Exec(t, admin, "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" TO CURRENT_USER")
	granted = true
	waitFor(t, "sluice_store_ready 1 with the store's writes taken again", 30*time.Second, func() bool { return storeReady(t, gw) == "1" })
}
