package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/route"
)

// TestRetry_AfterSwapGoesToNewStable: a request routed by a rule to
// another version is retried, when that version fails, on the stable
// version of the table it was routed by. An undo of a promoted rollout
// swaps the table (the candidate was the stable one) and its drain waits
// for the candidate's count to reach 0: a request whose rule's version
// failed after that read was retried on the candidate the unload webhook
// was unloading. The retry now counts itself and reads the table again,
// as decide does, and goes to the stable version of the table in force.
func TestRetry_AfterSwapGoesToNewStable(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	start := func() *fakellm.Server {
		s := fakellm.New(fakellm.Config{})
		if err := s.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	cand, base := start(), start()
	// v1 serves the users a rule sends it; v2 is the promoted candidate
	// (stable), v3 the baseline the undo goes back to.
	table := func(stable string) *route.Table {
		e := sluice.NewRegistry().Edit("test", "fixture", time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
		for _, v := range []sluice.Version{
			{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{failing.URL}},
			{Model: "chat", Version: "v2", Stage: sluice.StageProduction, Endpoints: []string{cand.URL()}},
			{Model: "chat", Version: "v3", Stage: sluice.StageProduction, Endpoints: []string{base.URL()}},
		} {
			if _, err := e.RegisterVersion(v); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: stable}); err != nil {
			t.Fatal(err)
		}
		if err := e.SetLabel("chat", "stable", stable); err != nil {
			t.Fatal(err)
		}
		if err := e.SetRules("chat", []sluice.Rule{{Header: "X-Segment", Values: []string{"beta"}, Version: "v1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Finish(); err != nil {
			t.Fatal(err)
		}
		return route.Build(e.Registry(), nil, route.NewOptions())
	}
	routes := route.NewHolder(table("v2"))
	p := New(Options{Routes: routes})
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })

	type answer struct {
		version string
		err     error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Segment", "beta")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- answer{version: resp.Header.Get("X-Model-Version")}
	}()
	<-arrived
	// The undo: the table no longer serves the candidate, nor retries on
	// it, and the drain finds nothing in flight to it.
	routes.Store(table("v3"))
	if n := p.InFlight("chat:v2"); n != 0 {
		t.Fatalf("in flight to the candidate = %d", n)
	}
	close(release)
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.version != "chat:v3" || cand.Requests() != 0 {
		t.Errorf("retried on %q; the drained candidate got %d requests, want the retry on chat:v3 and none",
			a.version, cand.Requests())
	}
	for _, id := range []string{"chat:v1", "chat:v2", "chat:v3"} {
		if n := p.InFlight(id); n != 0 {
			t.Errorf("in flight to %s after the answer = %d", id, n)
		}
	}
}
