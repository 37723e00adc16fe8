package ui_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// applySlashModel registers "acme/chat" (a Hugging Face style name, which
// sluice.CheckName allows) with a production and a staging version.
func applySlashModel(t *testing.T, g *gateway, stable, cand *fakellm.Server) {
	t.Helper()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "acme/chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{stable.URL()}, Family: "llama-3", WeightHash: "w1", Stage: sluice.StageProduction},
			{Version: "v1.1.0", Endpoints: []string{cand.URL()}, Family: "llama-3", WeightHash: "w2", Stage: sluice.StageStaging},
		},
	}}}
	if _, err := g.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatalf("apply acme/chat: %v", err)
	}
}

// What the user does: registers a model named like its Hugging Face repo,
// "acme/chat" (model names may contain '/'), starts a canary, opens the
// dashboard and clicks Abort (or Promote, Pause, or sets a split).
// What happens now: the page asks /ui/api/admin/v1/rollouts/acme%2Fchat, as
// app.js encodes the name; the dashboard's toAPI rewrites only the decoded
// Path and clears RawPath, so the admin API sees /admin/v1/rollouts/acme/chat
// and answers 404 "there is no admin endpoint". loadRollout takes the 404 for
// "no rollout", so the running canary is not shown at all, and every action
// button fails.
// What should happen: the escaped name reaches the API as one path segment;
// the page reads the rollout (200) and the abort goes through.
func TestSlashModelNameReachesAPI(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	applySlashModel(t, g, stable, cand)
	spec := canarySpec()
	spec.Model = "acme/chat"
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary", spec); err != nil {
		t.Fatalf("start rollout: %v", err)
	}
	waitFor(t, "the rollout of acme/chat", 20*time.Second, func() bool {
		return g.Control.Registry().Rollouts["acme/chat"] != nil
	})
	b := signIn(t, g.AdminURL(), g.operator)

	resp, body := b.do("GET", "/ui/api/admin/v1/rollouts/acme%2Fchat", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET rollout of acme/chat through the dashboard: %d %s (want 200: the page shows no rollout)", resp.StatusCode, body)
	}
	resp, body = b.do("POST", "/ui/api/admin/v1/rollouts/acme%2Fchat/abort", `{"reason":"bad answers"}`, map[string]string{"X-Sluice-CSRF": b.csrf})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("abort of acme/chat through the dashboard: %d %s (want 200)", resp.StatusCode, body)
	}
	resp, body = b.do("PUT", "/ui/api/admin/v1/models/acme%2Fchat/split", `{"reason":"r","weights":[{"version":"v1.0.0","percent":100}]}`, map[string]string{"X-Sluice-CSRF": b.csrf})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("split of acme/chat through the dashboard: %d %s (want 200)", resp.StatusCode, body)
	}
}
