package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/server"
)

// What the user does: runs `sluice serve` with an alert webhook (the
// on-call's pager). A canary is aborted while a long candidate request is
// in flight, and the gateway gets SIGTERM (a deploy, a node drain) while
// that abort's drain still runs: `sluice serve` calls Server.Shutdown and
// exits when it returns.
// What happens now: since today the abort's drain, unload and alerts run in
// the background; Shutdown waits for the drain (the controller's Run waits
// for its background work), but the alert is then only handed to a
// goroutine of the webhook sender that nothing waits for: Shutdown returns
// with the alert still undelivered and the process exits, so the abort is
// never paged. (A receiver answering in 2 s, or a first 5xx that is retried
// after 1 s, is enough.)
// What should happen: Shutdown returns only after the alerts of the
// rollbacks it waited for were delivered (or their bounded retries gave
// up).
func TestShutdownDuringDrainLosesAbortAlert(t *testing.T) {
	var mu sync.Mutex
	var arrived, delivered []string
	alerts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a rollout.Alert
		json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		arrived = append(arrived, a.Rollout+" "+string(a.Phase))
		mu.Unlock()
		select { // a receiver that takes 2 s to answer
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
			return
		}
		mu.Lock()
		delivered = append(delivered, a.Rollout+" "+string(a.Phase))
		mu.Unlock()
	}))
	t.Cleanup(alerts.Close)

	fake := fakellm.New(fakellm.Config{})
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(hold) }) }
	t.Cleanup(release)
	cand := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("HOLD-ME")) {
			held <- struct{}{}
			<-hold
		}
		fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(cand.Close)
	stable := MustBackend(t, fakellm.Config{})

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.Tick = 20 * time.Millisecond
	cfg.Rollouts.DrainTimeout = 30 * time.Second
	cfg.Rollouts.Alerts = []config.Webhook{{URL: alerts.URL}}
	cfg.Health.Interval = 200 * time.Millisecond
	ctx := context.Background()
	s, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	shutDone := make(chan struct{})
	var shutErr error
	var shutOnce sync.Once
	shutdown := func() {
		shutOnce.Do(func() {
			go func() {
				sctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
				defer cancel()
				shutErr = s.Shutdown(sctx)
				close(shutDone)
			}()
		})
	}
	t.Cleanup(func() {
		release()
		shutdown()
		select {
		case <-shutDone:
		case <-time.After(60 * time.Second):
		}
	})
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Labels: map[string]string{"stable": "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{stable.URL()}, Stage: sluice.StageProduction},
			// production, so a client may pin it (chat:v1.1.0)
			{Version: "v1.1.0", Endpoints: []string{cand.URL}, Stage: sluice.StageProduction},
		},
	}}}
	if _, err := s.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyCanary,
		Warmup: sluice.WarmupSpec{Skip: true}, Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(time.Hour)}}
	r, err := s.Rollouts.Start(ctx, "alice", "ship v1.1.0", spec)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur := s.Control.Registry().Rollouts["chat"]
		if cur != nil && cur.Phase == sluice.PhaseProgressing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canary did not go live: %+v", cur)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A long candidate request.
	go func() {
		resp, err := http.Post(s.URL()+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"chat:v1.1.0","messages":[{"role":"user","content":"HOLD-ME"}]}`))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the long request did not reach the candidate")
	}

	if _, err := s.Rollouts.Act(ctx, "bob", "chat", rollout.EvAbort, "bad canary"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	// SIGTERM while the abort's drain waits for the long request; then the
	// request ends.
	shutdown()
	release()
	select {
	case <-shutDone:
	case <-time.After(60 * time.Second):
		t.Fatal("Shutdown did not return in 60 s")
	}
	mu.Lock()
	defer mu.Unlock()
	want := r.ID + " " + string(sluice.PhaseAborted)
	for _, d := range delivered {
		if d == want {
			return
		}
	}
	t.Errorf("Server.Shutdown returned (err %v) before the abort's alert was delivered: the webhook had received %q and answered none of it; `sluice serve` exits here and the page for the abort of %s is lost",
		shutErr, arrived, r.ID)
}
