package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestNoRollout_NoFailedRequest: for a model that never had a rollout the
// dashboard asked GET /admin/v1/rollouts/{model}, which answers 404 (the
// CLI relies on it), and the browser's console logged "Failed to load
// resource: 404" at every load and refresh. The models list now says which
// rollout a model has, and the dashboard asks for a rollout only when there
// is one: the page shows "No rollout", with no failed request and no
// console error.
func TestNoRollout_NoFailedRequest(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	failures := listenFailures(t, ctx)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 3}))
	startLoad(t, g.URL(), 2)
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.operator),
		chromedp.WaitVisible(chromedp.CSS("#no-rollout")),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
		// A round trip after the page settled, so events of its loads
		// have arrived.
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#no-rollout")),
		chromedp.WaitVisible(chromedp.CSS("#live.on")),
	); err != nil {
		t.Fatalf("dashboard: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if bad := failures(); len(bad) > 0 {
		t.Errorf("the dashboard of a model with no rollout made failed requests or console errors:\n  %s", strings.Join(bad, "\n  "))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
