package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// webhookChipTexts returns the text of each webhook chip of the timeline's
// events, newest event first, an event's chips joined by " + ".
func webhookChipTexts(ctx context.Context, t *testing.T) []string {
	t.Helper()
	got := evalString(ctx, t, `Array.from(document.querySelectorAll("#rollout-events li[data-kind=webhook]")).map(li =>
	  Array.from(li.querySelectorAll(".chip.webhook")).map(c => c.textContent + " [" + c.dataset.webhook + "/" + c.dataset.status + "]").join(" + ")).join("\n")`)
	return strings.Split(got, "\n")
}

// TestWebhookChips_TwoHookWaitAndMimicHold: a promotion waiting for two
// confirm_promotion webhooks was one chip named "qa, release" (the
// dashboard parsed the hooks' names out of the event's message); it is
// now one chip per hook, from the event's data. And release's hold,
// answered "this holds; passed earlier", reads held from the data.
func TestWebhookChips_TwoHookWaitAndMimicHold(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	l := startHeldCanary(t, g, "canary behind two approvals",
		hookAnswer{sluice.RolloutWebhook{Name: "qa", Type: sluice.WebhookConfirmPromotion}, `{"pass": true, "message": "qa signed off; it failed before"}`},
		hookAnswer{sluice.RolloutWebhook{Name: "release", Type: sluice.WebhookConfirmPromotion}, `{"pass": false, "message": "this holds; passed earlier"}`})
	defer l.finish()
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-events .chip.webhook[data-webhook="release"]`)),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	// Under load an analysis may stop passing, which ends the wait, and
	// the next passing one waits again: each wait and hold reads the same.
	got := webhookChipTexts(ctx, t)
	waits, holds := 0, 0
	for _, line := range got {
		switch line {
		case "webhook qa · confirm_promotion · waiting [qa/waiting] + webhook release · confirm_promotion · waiting [release/waiting]":
			waits++
		case "webhook release · confirm_promotion · held [release/held]":
			holds++
		default:
			t.Errorf("a webhook event's chips: %q", line)
		}
	}
	if waits == 0 || holds == 0 {
		t.Errorf("the webhook events' chips, newest first:\n%s\nwant the wait for qa and release as two chips, and release's hold", strings.Join(got, "\n"))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestWebhookChip_PreRolloutFail: a pre_rollout webhook that fails ended
// the rollout with a "failed" event alone, no webhook chip beside its call;
// its answer is now a webhook event whose chip says failed (from the
// data), though the answer reads "this holds; passed earlier".
func TestWebhookChip_PreRolloutFail(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	golden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"pass": false, "message": "this holds; passed earlier"}`)
	}))
	defer golden.Close()
	spec := canarySpec()
	spec.Webhooks = []sluice.RolloutWebhook{{Name: "golden-set", Type: sluice.WebhookPreRollout, URL: golden.URL}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary behind an eval", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pre_rollout webhook to fail the rollout", 60*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseFailed
	})
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-events .chip.webhook[data-webhook="golden-set"]`)),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	got := webhookChipTexts(ctx, t)
	want := []string{
		"webhook golden-set · pre_rollout · failed [golden-set/failed]",
		"webhook golden-set · pre_rollout · calling [golden-set/calling]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the webhook events' chips, newest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
