package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestReasonBoxFollowsModel: the rollout card's one reason box (and the
// split editor's) kept its text when the operator picked another model, so
// a reason typed for chat's rollout was sent with an action on search's.
// Picking a model now empties both boxes: the Pause click on search asks
// for a reason and sends nothing.
func TestReasonBoxFollowsModel(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name: "search", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
		Versions: []sluice.Version{
			{Version: "v1", Endpoints: []string{stable.URL()}, Stage: sluice.StageProduction},
			{Version: "v2", Endpoints: []string{cand.URL()}, Stage: sluice.StageStaging},
		},
	}}}
	if _, err := g.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ model, cand string }{{"chat", "v1.1.0"}, {"search", "v2"}} {
		spec := canarySpec()
		spec.Model, spec.Candidate, spec.Warmup = m.model, m.cand, sluice.WarmupSpec{Skip: true}
		if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary of "+m.model, spec); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both canaries live", 20*time.Second, func() bool {
		reg := g.Control.Registry()
		return reg.Rollouts["chat"].Phase == sluice.PhaseProgressing && reg.Rollouts["search"].Phase == sluice.PhaseProgressing
	})
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.operator)); err != nil {
		t.Fatalf("sign in: %v%s", err, pageText(ctx))
	}
	pickModel(ctx, t, "chat")
	waitFor(t, "the page to show chat's rollout", 30*time.Second, func() bool {
		return strings.Contains(evalString(ctx, t, `document.getElementById("rollout-body").textContent`), "v1.1.0")
	})
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#rollout-reason"), "chat's p99 doubled"),
		chromedp.Click(chromedp.CSS("#split-editor summary")),
		chromedp.SendKeys(chromedp.CSS("#split-reason"), "chat back to stable"),
	); err != nil {
		t.Fatal(err)
	}
	pickModel(ctx, t, "search")
	waitFor(t, "the page to show search's rollout", 30*time.Second, func() bool {
		return strings.Contains(evalString(ctx, t, `document.getElementById("rollout-body").textContent`), "search-")
	})
	boxes := evalString(ctx, t, `document.getElementById("rollout-reason").value + "|" + document.getElementById("split-reason").value`)
	if boxes != "|" {
		t.Errorf("reason boxes after picking search: %q; want both empty", boxes)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#rollout-actions button[data-action="pause"]`))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the page's answer to the click", 10*time.Second, func() bool {
		return evalString(ctx, t, `document.getElementById("flash").hidden ? "" : document.getElementById("flash").textContent`) != ""
	})
	if flash := evalString(ctx, t, `document.getElementById("flash").textContent`); !strings.HasPrefix(flash, "Give a reason to pause") {
		t.Errorf("flash after Pause with chat's reason left behind: %q; want it to ask for a reason", flash)
	}
	if r := g.Control.Registry().Rollouts["search"]; r.Phase != sluice.PhaseProgressing {
		t.Errorf("search's canary is %s (%s); want it untouched", r.Phase, r.Events[len(r.Events)-1].Message)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
