package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/server"
)

// TestUnloadHook_SharedEndpointsAndNoCredentials: a trial fleet's undone
// candidate shared a vLLM server with the stable version, and the unload
// webhook was sent that endpoint as registered, user:password@ included,
// with nothing saying the stable version served from it: a hook that
// stops the server it is named took the stable version down. The body now
// carries the endpoints without credentials (nor a secret query value),
// and names those another live version serves from (shared_endpoints,
// shared_with), while keeping every field it had.
func TestUnloadHook_SharedEndpointsAndNoCredentials(t *testing.T) {
	shared := MustBackend(t, fakellm.Config{})
	own := MustBackend(t, fakellm.Config{})
	other := MustBackend(t, fakellm.Config{})
	bodies := make(chan []byte, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
	}))
	t.Cleanup(hook.Close)

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.Tick = 20 * time.Millisecond
	cfg.Rollouts.UnloadWebhook = hook.URL
	host := func(b *fakellm.Server) string { return strings.TrimPrefix(b.URL(), "http://") }
	// The stable version reaches the shared server with its own
	// credentials and another path; the candidate with a password.
	candShared := "http://ops:hunter2@" + host(shared) + "/v1"
	candOwn := "http://" + host(own) + "/v1?api-key=s3cr3t&api-version=2024-10-21"
	ctx := context.Background()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Labels: map[string]string{"stable": "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{"http://svc:pw@" + host(shared)}, UpstreamModel: "base", Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{candShared, candOwn}, UpstreamModel: "adapter-7", Stage: sluice.StageStaging},
			{Version: "v0.9.0", Endpoints: []string{own.URL()}, Stage: sluice.StageRetired},
		},
	}, {
		// Another model on a server of its own: not the candidate's.
		Name: "embed", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{other.URL()}, Stage: sluice.StageProduction}},
	}}}
	s := startGateway(t, server.Options{Config: cfg}, doc)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyCanary,
		Warmup: sluice.WarmupSpec{Skip: true}, Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(time.Hour)}}
	if _, err := s.Rollouts.Start(ctx, "alice", "ship v1.1.0", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary to go live", 30*time.Second, func() bool {
		cur := s.Control.Registry().Rollouts["chat"]
		return cur != nil && cur.Phase == sluice.PhaseProgressing
	})
	if _, err := s.Rollouts.Act(ctx, "bob", "chat", rollout.EvAbort, "bad canary"); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	select {
	case raw = <-bodies:
	case <-time.After(30 * time.Second):
		t.Fatal("the unload webhook was not called after the abort")
	}
	for _, secret := range []string{"hunter2", "ops:", "s3cr3t", "svc:", "pw@"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the unload webhook's body holds a credential (%q):\n%s", secret, raw)
		}
	}
	var body struct {
		Event, Model, Version, UpstreamModel string
		Endpoints, SharedEndpoints           []string
		SharedWith                           map[string][]string
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("the unload webhook's body is not a JSON object: %v\n%s", err, raw)
	}
	for k, dst := range map[string]any{"event": &body.Event, "model": &body.Model, "version": &body.Version, "upstream_model": &body.UpstreamModel,
		"endpoints": &body.Endpoints, "shared_endpoints": &body.SharedEndpoints, "shared_with": &body.SharedWith} {
		v, ok := m[k]
		if !ok {
			t.Errorf("the unload webhook's body has no %q:\n%s", k, raw)
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if body.Event != "unload" || body.Model != "chat" || body.Version != "chat:v1.1.0" || body.UpstreamModel != "adapter-7" {
		t.Errorf("unload body %+v, want event unload for chat:v1.1.0, upstream_model adapter-7", body)
	}
	cleanShared := "http://" + host(shared) + "/v1"
	cleanOwn := "http://" + host(own) + "/v1?api-key=REDACTED&api-version=2024-10-21"
	if want := []string{cleanShared, cleanOwn}; !slices.Equal(body.Endpoints, want) {
		t.Errorf("endpoints %q, want %q (as registered, without credentials)", body.Endpoints, want)
	}
	// The retired version on the candidate's own server does not keep it
	// loaded; the stable version on the shared one does, whatever path
	// and credentials it reaches it with.
	if want := []string{cleanShared}; !slices.Equal(body.SharedEndpoints, want) {
		t.Errorf("shared_endpoints %q, want %q", body.SharedEndpoints, want)
	}
	if want := map[string][]string{cleanShared: {"chat:v1.0.0"}}; len(body.SharedWith) != 1 || !slices.Equal(body.SharedWith[cleanShared], want[cleanShared]) {
		t.Errorf("shared_with %v, want %v", body.SharedWith, want)
	}
}
