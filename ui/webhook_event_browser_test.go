package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestWebhookEventChips: a rollout's webhook calls and answers were on its
// timeline as grey "webhook" chips, the same for a pass, a fail and a hold,
// and a promotion held by a confirm_promotion webhook showed only
// "progressing" in the card's head. Each webhook event's chip now names
// the hook, its type and how it went, styled by it; and a held promotion
// says "waiting for approval: HOOK" beside the phase. Here a real canary
// with auto-promotion runs under load, a pre_rollout check passes, and the
// approval webhook answers no.
func TestWebhookEventChips(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	l := startHeldCanary(t, g, "canary behind an approval",
		hookAnswer{sluice.RolloutWebhook{Name: "golden-set", Type: sluice.WebhookPreRollout}, `{"pass": true, "message": "golden set 3/3"}`},
		hookAnswer{sluice.RolloutWebhook{Name: "release-approval", Type: sluice.WebhookConfirmPromotion}, `{"pass": false, "message": "change freeze until Monday"}`})
	defer l.finish()
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-events .chip.webhook[data-status="held"]`)),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(screenshotDir(t), "webhooks.png"), png, 0o644)
	}
	type chip struct {
		Text, Webhook, Type, Status, Background string
	}
	chips, err := chromedp.Run(ctx, chromedp.Evaluate[[]chip](`Array.from(document.querySelectorAll("#rollout-events li .chip")).map(c => ({
	  Text: c.textContent, Webhook: c.dataset.webhook || "", Type: c.dataset.type || "", Status: c.dataset.status || "", Background: getComputedStyle(c).backgroundColor }))`))
	if err != nil {
		t.Fatal(err)
	}
	find := func(pred func(chip) bool) (chip, bool) {
		for _, c := range chips {
			if pred(c) {
				return c, true
			}
		}
		return chip{}, false
	}
	passed, ok := find(func(c chip) bool { return c.Webhook == "golden-set" && c.Status == "passed" })
	if !ok || passed.Text != "webhook golden-set · pre_rollout · passed" {
		t.Errorf("no chip for golden-set's pass (got %+v) among %+v", passed, chips)
	}
	held, ok := find(func(c chip) bool { return c.Webhook == "release-approval" && c.Status == "held" })
	if !ok || held.Text != "webhook release-approval · confirm_promotion · held" {
		t.Errorf("no chip for release-approval's hold (got %+v) among %+v", held, chips)
	}
	plain, _ := find(func(c chip) bool { return c.Text == "started" || c.Text == "stage" })
	if plain.Background == "" || held.Background == plain.Background || passed.Background == plain.Background || held.Background == passed.Background {
		t.Errorf("the webhook chips are not styled by how they went: passed %s, held %s, a routine event %s", passed.Background, held.Background, plain.Background)
	}
	// Under load an analysis may stop passing, which ends the wait until
	// the next passing one waits again: the head and the Next line name
	// the approval while a wait is on, so they are read until one is.
	var head, next string
	deadline := time.Now().Add(60 * time.Second)
	for {
		head = evalString(ctx, t, `(e => e ? e.textContent : "")(document.getElementById("rollout-waiting"))`)
		next = evalString(ctx, t, `(e => e ? e.textContent : "")(document.getElementById("rollout-next"))`)
		if head == "waiting for approval: release-approval" && strings.Contains(next, "release-approval") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if head != "waiting for approval: release-approval" {
		t.Errorf("the card's head says %q, want the held promotion's approval named", head)
	}
	if !strings.Contains(next, "release-approval") {
		t.Errorf("the Next line says %q", next)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// hookAnswer is a rollout webhook and the body its server answers with.
type hookAnswer struct {
	hook   sluice.RolloutWebhook
	answer string
}

// startHeldCanary starts, on g under load, a canary with auto-promotion
// behind hooks, each served by a loopback server answering its body, and
// waits until a confirm_promotion webhook holds the promotion; it returns
// the load, to finish.
func startHeldCanary(t *testing.T, g *gateway, reason string, hooks ...hookAnswer) *load {
	t.Helper()
	spec := canarySpec()
	spec.AutoPromote = true
	for _, h := range hooks {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, h.answer) }))
		t.Cleanup(srv.Close)
		h.hook.URL = srv.URL
		spec.Webhooks = append(spec.Webhooks, h.hook)
	}
	l := startLoad(t, g.URL(), 2)
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", reason, spec); err != nil {
		l.finish()
		t.Fatal(err)
	}
	waitFor(t, "the promotion to be held by a webhook", 60*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		if r != nil && !r.Phase.Active() {
			l.finish()
			t.Fatalf("the rollout ended %s: %s", r.Phase, r.Decision)
		}
		return r != nil && r.WebhookWait != nil && r.WebhookWait.Asked >= 1
	})
	return l
}
