package proxy_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestHealthChecker_ReusesConnectionWhenHealthHasABody: a model server's
// /health usually answers with a body (vLLM's is empty, TGI's and
// llama.cpp's say {"status":"ok"}). The checker reads it before closing,
// so the connection goes back to the pool; before, an unread body made
// the transport drop the connection, and every round opened a new one.
func TestHealthChecker_ReusesConnectionWhenHealthHasABody(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok","detail":"` + strings.Repeat("x", 2000) + `"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{srv.URL}, Stage: sluice.StageProduction}
	h := &proxy.HealthChecker{FailAfter: 2}
	h.SetTargets(reg)
	for range 5 {
		h.CheckNow(context.Background())
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("five health rounds opened %d connections; want 1, reused", n)
	}
}
