package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestAbortWithLongCandidateRequest: a canary is live and one of
// its requests is a long generation (here 90 s; streams of a few minutes
// are ordinary for an LLM). The operator runs `sluice rollout abort chat
// --reason r`, which the README says puts "traffic back on the baseline at
// once", with rollouts.unload_webhook set to free the candidate's GPU.
//
// Now the admin API answers only after the drain of in-flight candidate
// requests (rollouts.drain_timeout, 30 s by default), and the CLI's admin
// client gives up after 30 s, so the operator sees, after half a minute,
// "error: cannot reach the sluice server at http://...: context deadline
// exceeded (Client.Timeout exceeded while awaiting headers): check the
// server address and that the server runs" (exit 1) for an abort that was
// committed. Worse, the unload webhook runs with the HTTP request's
// context, which the CLI's hang-up has cancelled, so it is never called:
// the candidate stays loaded. The abort should answer as soon as it is
// committed, and the drain, unload webhook and timings should run on the
// controller's own time.
func TestAbortWithLongCandidateRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("takes ~35 s (skipped under -short)")
	}
	base := reviewBackend(t, fakellm.Behavior{})
	cand := fakellm.New(fakellm.Config{Categories: map[string]fakellm.Behavior{
		"long": {Latency: fakellm.Distribution{MedianMS: 90000}},
	}})
	if err := cand.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cand.Close() })

	var unloads atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		unloads.Add(1)
	}))
	defer hook.Close()

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.UnloadWebhook = hook.URL
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

	g, _, _ := applyReviewModels(t, gw.AdminURL(), token, base.URL(), cand.URL())
	mustRun(t, append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, g...)...)
	deadline := time.Now().Add(60 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase != "progressing" {
		if time.Now().After(deadline) {
			t.Fatalf("the canary never went live: %s", gw.Control.Registry().Rollouts["chat"].Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// One long request on the candidate.
	reqCtx, cancelReq := context.WithCancel(context.Background())
	defer cancelReq()
	done := make(chan struct{})
	go func() {
		defer close(done)
		body := `{"model":"chat:v1.2.0","messages":[{"role":"user","content":"write a long essay"}]}`
		req, _ := http.NewRequestWithContext(reqCtx, "POST", gw.URL()+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Category", "long")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	defer func() { cancelReq(); <-done }()
	for gw.Proxy.InFlight("chat:v1.2.0") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the long request never reached the candidate")
		}
		time.Sleep(10 * time.Millisecond)
	}

	start := time.Now()
	out, errOut, code := run(t, append([]string{"rollout", "abort", "chat", "--reason", "bad answers"}, g...)...)
	took := time.Since(start)
	if code != 0 || took > 15*time.Second {
		t.Errorf("sluice rollout abort chat: exit %d after %s\nstdout: %s\nstderr: %s\nwant exit 0 as soon as the abort is committed", code, took.Round(time.Second), out, errOut)
	}
	if got := gw.Control.Registry().Rollouts["chat"].Phase; got != "aborted" {
		t.Errorf("rollout phase after the abort: %s", got)
	}

	// The long request ends (the client gives up); the unload webhook must
	// still be called for the aborted candidate.
	cancelReq()
	<-done
	until := time.Now().Add(20 * time.Second)
	for unloads.Load() == 0 && time.Now().Before(until) {
		time.Sleep(50 * time.Millisecond)
	}
	if unloads.Load() == 0 {
		t.Errorf("the unload webhook (rollouts.unload_webhook) was never called for the aborted candidate")
	}
}
