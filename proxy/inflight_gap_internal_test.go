package proxy

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/route"
)

// gapBackends starts a stable (v1) and a candidate (v2) backend and returns
// them with routing tables for model "chat" that serve the candidate
// (before a rollback) and stable (after it).
func gapBackends(t *testing.T) (stable, cand *fakellm.Server, before, after *route.Table) {
	t.Helper()
	start := func() *fakellm.Server {
		s := fakellm.New(fakellm.Config{})
		if err := s.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	stable, cand = start(), start()
	table := func(serve string) *route.Table {
		e := sluice.NewRegistry().Edit("test", "fixture", time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
		for _, v := range []sluice.Version{
			{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{stable.URL()}},
			{Model: "chat", Version: "v2", Stage: sluice.StageStaging, Endpoints: []string{cand.URL()}},
		} {
			if _, err := e.RegisterVersion(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: serve}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Finish(); err != nil {
			t.Fatal(err)
		}
		return route.Build(e.Registry(), nil, route.NewOptions())
	}
	return stable, cand, table("v2"), table("v1")
}

// waitBlockedIn waits until some goroutine's stack shows fn.
func waitBlockedIn(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn) {
			return
		}
	}
	t.Fatalf("no goroutine reached %s", fn)
}

// TestDecide_RoutedAgainWhenTableChangesBeforeCount: a rollback swaps the
// table, then its drain waits for the candidate's count to reach 0. A
// request that chose the candidate from the old table and raised the count
// only after the drain read 0 went on to the candidate, which the unload
// webhook could already be unloading. Now it is routed again by the new
// table. The interleaving is forced by holding the lock the first count of
// a version takes.
func TestDecide_RoutedAgainWhenTableChangesBeforeCount(t *testing.T) {
	stable, cand, before, after := gapBackends(t)
	routes := route.NewHolder(before)
	p := New(Options{Routes: routes})
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })

	p.inflight.Lock()
	type answer struct {
		version string
		err     error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			done <- answer{err: err}
			return
		}
		resp.Body.Close()
		done <- answer{version: resp.Header.Get("X-Model-Version")}
	}()
	waitBlockedIn(t, "(*inflight).counter")
	// The rollback: the table no longer serves the candidate, and the
	// drain finds nothing in flight to it.
	routes.Store(after)
	if n := p.InFlight("chat:v2"); n != 0 {
		t.Fatalf("in flight to the candidate = %d before the request counted itself", n)
	}
	p.inflight.Unlock()
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.version != "chat:v1" || cand.Requests() != 0 || stable.Requests() != 1 {
		t.Fatalf("served by %q; candidate got %d requests, stable %d: a request decided before the drain reached the drained candidate",
			a.version, cand.Requests(), stable.Requests())
	}
	if n := p.InFlight("chat:v2") + p.InFlight("chat:v1"); n != 0 {
		t.Fatalf("in flight after the answer = %d", n)
	}
}
