package proxy_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// connWatch counts a server's new connections and reports each one closed.
type connWatch struct {
	mu     sync.Mutex
	opened int
	closed chan struct{}
}

func watchConns(t *testing.T) (*httptest.Server, *connWatch) {
	t.Helper()
	w := &connWatch{closed: make(chan struct{}, 16)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			w.mu.Lock()
			w.opened++
			w.mu.Unlock()
		case http.StateClosed, http.StateHijacked:
			w.closed <- struct{}{}
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, w
}

func (w *connWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.opened
}

// TestHealthChecker_ClosesRemovedEndpointsConnections: when an endpoint is
// no longer named (its pod replaced, its version retired), the checker's
// idle connection to it is closed at once; the endpoints still named keep
// theirs. Before, it stayed in the idle pool until the transport's idle
// timeout (90 s), holding a socket, and a backend shutting down saw a
// client still connected. The wait below only bounds a failure: the
// close is sent when SetTargets returns, and the bound (30 s) is a third
// of the idle timeout that closed it before.
func TestHealthChecker_ClosesRemovedEndpointsConnections(t *testing.T) {
	kept, keptConns := watchConns(t)
	gone, goneConns := watchConns(t)
	setTargets := func(h *proxy.HealthChecker, eps ...string) {
		reg := sluice.NewRegistry()
		reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Endpoints: eps, Stage: sluice.StageProduction}
		h.SetTargets(reg)
	}
	h := &proxy.HealthChecker{FailAfter: 2}
	ctx := context.Background()
	setTargets(h, kept.URL, gone.URL)
	h.CheckNow(ctx)
	h.CheckNow(ctx)
	if n, m := keptConns.count(), goneConns.count(); n != 1 || m != 1 {
		t.Fatalf("connections opened by two rounds: %d to kept, %d to gone; want 1 each (reused)", n, m)
	}

	setTargets(h, kept.URL)
	select {
	case <-goneConns.closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the idle health-check connection to a removed endpoint is still open 30 s after it was removed")
	}
	h.CheckNow(ctx)
	select {
	case <-keptConns.closed:
		t.Error("the connection to the endpoint still named was closed")
	default:
	}
	if n := keptConns.count(); n != 1 {
		t.Errorf("%d connections opened to the endpoint still named, want 1 (its idle one reused)", n)
	}
}
