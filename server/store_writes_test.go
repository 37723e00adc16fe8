package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// While the store cannot be written no alert fired: the request log
// counted its failed writes, the other writes a gateway makes on its own
// (rollout state and audit, the fleet's observations, its beat) only
// logged them. Each failed write is now counted in
// sluice_store_write_errors_total{what}, which SluiceStoreWritesFailing
// watches. The store here is a real PostgreSQL schema whose tables its
// role may read but no longer write.
func TestServer_StoreWriteErrorsCounted(t *testing.T) {
	dsn := pgtest.Schema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	be := MustBackend(t, fakellm.Config{})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = dsn
	cfg.RequestLog.FlushInterval = 50 * time.Millisecond
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	ctx := context.Background()
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": be.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	chat := func() {
		t.Helper()
		resp, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d", resp.StatusCode)
		}
	}
	chat()
	counts := func() map[string]float64 {
		rec := httptest.NewRecorder()
		gw.Recorder.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		out := map[string]float64{}
		for _, m := range regexp.MustCompile(`(?m)^sluice_store_write_errors_total\{what="(\w+)"\} (\S+)$`).FindAllStringSubmatch(rec.Body.String(), -1) {
			out[m[1]], _ = strconv.ParseFloat(m[2], 64)
		}
		return out
	}
	before := counts()
	for _, what := range []string{"request_log", "registry", "fleet_observations", "replica_beat", "shadow_pairs", "key_last_use"} {
		if v, ok := before[what]; !ok || v != 0 {
			t.Errorf("before any failure: sluice_store_write_errors_total{what=%q} is %v (present %v); want 0, present from the start", what, v, ok)
		}
	}

	// The role may still read its tables, but no longer write them.
	admin := pgtest.DSN(t)
	pgtest.Exec(t, admin, "REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" FROM CURRENT_USER")
	t.Cleanup(func() {
		pgtest.Exec(t, admin, "GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" TO CURRENT_USER")
	})
	chat()
	if _, err := gw.Control.Do(ctx, "test", "a change the store cannot take", func(e *sluice.Edit) error {
		return e.SetLabel("chat", "canary", "v1.0.0")
	}); err == nil {
		t.Fatal("a change while the store cannot be written: no error")
	}
	waitFor(t, "every failing write counted", 15*time.Second, func() bool {
		c := counts()
		return c["request_log"] > 0 && c["registry"] > 0 && c["fleet_observations"] > 0 && c["replica_beat"] > 0
	})
}
