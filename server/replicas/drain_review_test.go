package replicas_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// What the user does: runs two replicas on PostgreSQL with an unload
// webhook (it frees the candidate's GPUs). A client of replica 2 has a long
// request in flight to the canary's candidate; an operator aborts the
// canary through replica 1 (`sluice rollout abort`, which any replica
// takes).
// What must happen: the drain before the unload covers the candidate's
// requests in flight on every replica (up to drain_timeout), so the unload
// comes only after replica 2's request has ended, and then promptly. (It
// used to count replica 1's own requests alone and unload at once, under
// replica 2's live request.)
func TestAbortDrainCoversOtherReplicasInFlight(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateway processes (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	fake := fakellm.New(fakellm.Config{})
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	var inFlight sync.WaitGroup
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(hold) }) }
	t.Cleanup(release)
	var mu sync.Mutex
	holding := false
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte("HOLD-ME")) {
			mu.Lock()
			holding = true
			mu.Unlock()
			held <- struct{}{}
			<-hold
			mu.Lock()
			holding = false
			mu.Unlock()
		}
		fake.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(backend.Close)
	type unloadCall struct{ whileHeld bool }
	unloads := make(chan unloadCall, 8)
	unload := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := holding
		mu.Unlock()
		unloads <- unloadCall{whileHeld: h}
	}))
	t.Cleanup(unload.Close)

	rs := liveCanaryFleet(t, dsn, backend.URL, `tick: 50ms, drain_timeout: 30s, unload_webhook: "`+unload.URL+`"`, 1)
	ctx := context.Background()

	// A long request to the candidate through replica 2.
	inFlight.Add(1)
	go func() {
		defer inFlight.Done()
		resp, err := http.Post(rs[1].url+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"chat:v1.1.0","messages":[{"role":"user","content":"HOLD-ME"}]}`))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	t.Cleanup(func() { release(); inFlight.Wait() })
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the long request did not reach the candidate")
	}

	if _, err := rs[0].client.RolloutAction(ctx, "chat", "abort", "bad canary"); err != nil {
		t.Fatalf("abort through replica 1: %v", err)
	}
	select {
	case c := <-unloads:
		if c.whileHeld {
			t.Fatalf("the unload webhook for chat:v1.1.0 was called right after the abort through replica 1, while replica 2 still had a request in flight to it: the drain only counts replica 1's own requests")
		}
	case <-time.After(5 * time.Second):
		// Still draining the fleet's requests: fine.
	}
	release()
	select {
	case c := <-unloads:
		if c.whileHeld {
			t.Fatal("the unload webhook was called while replica 2's request to the candidate was still in flight")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no unload webhook within 20 s of the last request to the candidate ending (drain_timeout is 30 s): the drain did not see it end")
	}
}
