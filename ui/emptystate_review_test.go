package ui_test

// The tests here came from a review, with the bugs they found; their
// comments say what the dashboard did before the fix.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// mustEmptyGateway starts a gateway with no model registered, as a new
// install is, and returns it with an operator token.
func mustEmptyGateway(tb testing.TB) (*server.Server, string) {
	tb.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(tb.TempDir(), "sluice.db")
	ctx := context.Background()
	s, err := server.New(ctx, server.Options{Config: cfg})
	if err != nil {
		tb.Fatalf("new gateway: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("start gateway: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	secret, err := s.CreateToken(ctx, "olga-operator", sluice.RoleOperator, "test", "setup")
	if err != nil {
		tb.Fatalf("create token: %v", err)
	}
	return s, secret
}

// TestEmptyGatewayRolloutCard: on a gateway with no model yet, the
// dashboard must say so; the rollout card stays on "Loading…" for ever,
// because selectModel("") returns before anything renders it.
func TestEmptyGatewayRolloutCard(t *testing.T) {
	g, secret := mustEmptyGateway(t)
	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), secret),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	time.Sleep(2 * time.Second) // a few live ticks, had there been any
	txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("rollout-body").innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(txt, "Loading") {
		t.Errorf("with no model registered, the rollout card still says %q 2 s after the page is ready; want an empty state (no model yet: register one with sluice apply)", txt)
	}
}

// TestEmptyGatewayPicksUpFirstModel: a dashboard opened before the
// first model is registered never learns of it: with no model selected,
// connect() opens no event stream, so nothing reloads the models. An SRE
// who opened the page, then ran sluice apply, keeps seeing an empty table.
func TestEmptyGatewayPicksUpFirstModel(t *testing.T) {
	g, secret := mustEmptyGateway(t)
	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), secret),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:     "chat",
		Policy:   &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
		Versions: []sluice.Version{{Version: "v1.0.0", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction}},
	}}}
	if _, err := g.Control.Do(context.Background(), "test", "first model", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatalf("apply: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#models-table tbody tr").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the first model was registered the models table is still empty (GET /admin/v1/models lists it)%s", pageText(ctx))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
