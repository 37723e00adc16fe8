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

// TestWebhookChip_StageFailSaysFailed: a stage webhook that fails rolls
// the rollout back, and its chip says failed whatever its answer's words:
// the chip read " holds " anywhere in the event's message, the webhook's
// own answer included, so a fail answered "the error budget holds no
// headroom" showed as held (a hold, asked again) beside the rollback.
func TestWebhookChip_StageFailSaysFailed(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"pass": false, "message": "the error budget holds no headroom"}`)
	}))
	defer gate.Close()
	spec := canarySpec()
	spec.Strategy, spec.CanaryPercent = sluice.StrategyProgressive, 0
	spec.Stages = []sluice.RolloutStage{{Percent: 40, MinSamples: 30}, {Percent: 70}, {Percent: 100}}
	spec.Webhooks = []sluice.RolloutWebhook{{Name: "eval-gate", Type: sluice.WebhookStage, URL: gate.URL}}
	l := startLoad(t, g.URL(), 2)
	defer l.finish()
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "stage behind an eval", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stage webhook's fail to roll the rollout back", 60*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseRolledBack
	})
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS(`#rollout-events .chip.webhook[data-webhook="eval-gate"]`)),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	got := evalString(ctx, t, `Array.from(document.querySelectorAll('#rollout-events .chip.webhook[data-webhook="eval-gate"]')).map(c => c.textContent).join(" | ")`)
	if !strings.HasPrefix(got, "webhook eval-gate · stage · failed") || strings.Contains(got, "held") {
		t.Errorf("the stage webhook's chips, newest first: %q, want its fail", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
