package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// On PostgreSQL the version's windows are the fleet's: each replica's
// observations reach them through its flushes, the last at shutdown
// (flushFleet), "once the requests in flight have finished". A request
// the drain cut off was recorded only after that last flush (Shutdown
// waited for the cut requests just before the request log closed), so the
// fleet's windows never had it. Its observation must be in the last flush.
func TestServer_ShutdownDrainCutReachesTheFleet(t *testing.T) {
	dsn := pgtest.Schema(t)
	slow := MustBackend(t, fakellm.Config{})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = dsn
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error {
		return e.Apply(chatDoc(map[string]string{"v1.0.0": slow.URL()}, nil, nil))
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		req, _ := http.NewRequest(http.MethodPost, gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set(fakellm.HeaderLatency, "20000")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	waitFor(t, "the slow request in flight", 5*time.Second, func() bool { return gw.Proxy.InFlight("chat:v1.0.0") == 1 })
	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := gw.Shutdown(sctx); err == nil || !strings.Contains(err.Error(), "1 request was cut off") {
		t.Fatalf("shutdown: %v; want the drain's cut of 1 request", err)
	}

	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	if err := st.ObservationBatches(ctx, time.Now().Add(-time.Hour), "", nil, func(b postgres.ObservationBatch) error {
		if b.Model == "chat" && b.Version == "v1.0.0" {
			n += b.Observations
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the fleet's flushes hold %d observations of chat:v1.0.0; want 1, the request the drain cut off", n)
	}
}
