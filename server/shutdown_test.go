package server_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// startSlowRequest starts gw with chat v1.0.0 on b and sends it a request
// the backend holds for hold; it returns once the request is in flight.
func startSlowRequest(t *testing.T, gw *server.Server, b *fakellm.Server, hold time.Duration) {
	t.Helper()
	ctx := context.Background()
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Control.Do(ctx, "alice", "set up chat", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		req, _ := http.NewRequest(http.MethodPost, gw.URL()+"/v1/chat/completions",
			strings.NewReader(`{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`))
		req.Header.Set(fakellm.HeaderLatency, strconv.Itoa(int(hold.Milliseconds())))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for gw.Proxy.InFlight("chat:v1.0.0") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the slow request never got in flight")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A gateway shutting down is not ready: /readyz on admin_listen, still
// served while the data plane drains its requests in flight (and refuses
// new ones), answered 200 "ready" for the whole drain, so a load balancer
// probing it kept sending requests to a gateway that refused them.
func TestServer_ReadyzDuringShutdown(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminListen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	startSlowRequest(t, gw, b, 2*time.Second)
	readyz := func() (int, string) {
		resp, err := http.Get(gw.AdminURL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz before the shutdown: %d %s", code, body)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- gw.Shutdown(ctx)
	}()
	// Polled until the drain has begun (a fixed sleep flaked on a loaded
	// machine, where the goroutine may not have run yet); the request is
	// held 2 s, so the drain runs until then and /readyz is served.
	code, body := readyz()
	for code == http.StatusOK && len(done) == 0 {
		time.Sleep(10 * time.Millisecond)
		code, body = readyz()
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("/readyz during the shutdown's drain: %d %q, want 503 saying it shuts down", code, body)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
