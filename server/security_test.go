package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_BackendRedirectsNotFollowed: a candidate's backend answers
// every path with a 302 to another server. Through the whole gateway (data
// plane pinned and split, health checks, a rollout's readiness check) that
// other server is never called: the redirect reaches the client, or counts
// as the backend's failure (the rollout fails its readiness check).
func TestGateway_BackendRedirectsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"choices":[{"message":{"content":"followed"}}]}`))
	}))
	defer other.Close()
	var redirected atomic.Int64
	var mu sync.Mutex
	paths := map[string]int{}
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		mu.Lock()
		paths[r.URL.Path]++
		mu.Unlock()
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirecting.Close()
	good := MustBackend(t, fakellm.Config{})
	gw, admin := mustGatewayWith(t, nil, nil, chatDoc(map[string]string{"v1.0.0": good.URL(), "v1.1.0": redirecting.URL},
		[]sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, map[string]string{"stable": "v1.0.0"}))
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// Pinned: the client gets a 502 naming the version, not the redirect
	// (its Location is the backend's; proxy TestRedirectFromBackendIsNotSuccess).
	resp, _ := postRead(t, noFollow, gw.URL(), `{"model":"chat:v1.1.0","messages":[]}`, nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("pinned to the redirecting version: %d, want 502", resp.StatusCode)
	}
	// Split: whichever version a user lands on, nothing reaches the other
	// server.
	for i := 0; i < 40; i++ {
		postRead(t, noFollow, gw.URL(), `{"model":"chat","user":"u`+itoa(i)+`","messages":[]}`, nil)
	}
	// A rollout of the redirecting version checks it is ready first.
	cl := api.NewClient(gw.AdminURL(), admin)
	_, rerr := cl.StartRollout(context.Background(), sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{{Percent: 10}, {Percent: 100}}, Warmup: sluice.WarmupSpec{Requests: 3}}, "redirect test")
	// Health checks every 100 ms: give them a second.
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	if paths["/v1/chat/completions"] == 0 || paths["/health"] == 0 {
		t.Fatalf("the redirecting backend saw %v; the test did not exercise the data plane and the health checks", paths)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the gateway followed a backend's redirect: %d requests reached the server it pointed to (of %d to the redirecting backend)", n, redirected.Load())
	}
	st, _ := cl.Rollout(context.Background(), "chat")
	var events []string
	for _, e := range st.Rollout.Events {
		events = append(events, string(e.Kind)+": "+e.Message)
	}
	t.Logf("%d requests to the redirecting backend (%v), 0 followed; rollout start: %v; rollout %s: %q", redirected.Load(), paths, rerr, st.Rollout.Phase, events)
}

// TestGateway_BackendURLsAdminOnly: an operator may move traffic but not
// say where it goes. With an operator token, registering a version, or
// applying a file that changes a version's endpoints, is refused with a
// 403 and changes nothing; the same with an admin token is the test's
// control (a new version is accepted; a changed endpoint is refused as an
// immutable-version conflict, so a backend URL cannot be changed in place
// by anyone).
func TestGateway_BackendURLsAdminOnly(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	gw, admin := mustGatewayWith(t, nil, nil, chatDoc(map[string]string{"v1.0.0": good.URL()}, nil, nil))
	ctx := context.Background()
	opSecret, err := gw.CreateToken(ctx, "olga", sluice.RoleOperator, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	op := api.NewClient(gw.AdminURL(), opSecret)
	evil := "http://127.0.0.1:1/steal"
	newVersion := sluice.Version{Model: "chat", Version: "v9.0.0", Endpoints: []string{evil}, UpstreamModel: "x", Family: "llama-3", BaseModel: "llama-3-8b", Stage: sluice.StageProduction}
	changed := chatDoc(map[string]string{"v1.0.0": evil}, nil, nil)
	added := chatDoc(map[string]string{"v1.0.0": good.URL(), "v1.1.0": evil}, nil, nil)
	reg := gw.Control.Registry()
	auditBefore, _ := gw.Store.Audit(ctx, sluice.AuditQuery{})

	for name, call := range map[string]func() error{
		"RegisterVersion":    func() error { _, err := op.RegisterVersion(ctx, newVersion, "operator adds a backend"); return err },
		"ApplyNewVersion":    func() error { _, err := op.Apply(ctx, added, "operator adds a backend", false); return err },
		"ApplyChangedURL":    func() error { _, err := op.Apply(ctx, changed, "operator moves a backend", false); return err },
		"ApplyChangedDryRun": func() error { _, err := op.Apply(ctx, changed, "operator moves a backend", true); return err },
	} {
		err := call()
		if sluice.ErrorCode(err) != sluice.CodeForbidden || !strings.Contains(sluice.ErrorMessage(err), "admin") {
			t.Errorf("%s with an operator token: %v, want a 403 saying it needs admin", name, err)
		}
	}
	// Nor can an operator reach a backend URL of their own through the
	// endpoints an operator may use: a rollout or a split names versions
	// by tag only, and an unknown one is refused.
	if _, err := op.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v9.0.0", Percent: 50}}, "", "split to an unregistered version"); sluice.ErrorCode(err) == "" {
		t.Errorf("an operator split to an unregistered version was accepted")
	}
	after := gw.Control.Registry()
	if after.Revision != reg.Revision || strings.Join(after.Versions["chat:v1.0.0"].Endpoints, ",") != good.URL() || len(after.Versions) != len(reg.Versions) {
		t.Fatalf("refused operator changes moved the registry: revision %d → %d", reg.Revision, after.Revision)
	}
	if auditAfter, _ := gw.Store.Audit(ctx, sluice.AuditQuery{}); len(auditAfter) != len(auditBefore) {
		t.Errorf("refused operator changes wrote %d audit entries", len(auditAfter)-len(auditBefore))
	}

	// The control: an admin may add a backend; no one may change one in
	// place.
	ad := api.NewClient(gw.AdminURL(), admin)
	if _, err := ad.Apply(ctx, added, "admin adds a version", false); err != nil {
		t.Errorf("admin adding a version: %v", err)
	}
	if _, err := ad.Apply(ctx, changed, "admin moves a backend", false); sluice.ErrorCode(err) != sluice.CodeConflict {
		t.Errorf("admin changing the endpoint of an existing version: %v, want an immutable-version conflict", err)
	}
}
