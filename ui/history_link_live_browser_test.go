package ui_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestHistory_LinkToTheLiveRollout: a link to the rollout under way
// (#history/MODEL/ID, written from the id `sluice rollout list` shows)
// opened it on the History tab as a read-only card that said "as it
// ended" and never moved, while its live card was on the Overview. It
// now opens the Overview, as the live rollout's row in the list does.
func TestHistory_LinkToTheLiveRollout(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	live := startLive(t, g, "v1.1.0", "canary under way")
	link := g.AdminURL() + "/ui/#history/chat/" + live.ID
	if err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), g.viewer),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS("#rollout-phase")),
	); err != nil {
		t.Fatalf("open the link %s: %v%s", link, err, pageText(ctx))
	}
	waitFor(t, "the link to the live rollout to open the Overview", 10*time.Second, func() bool {
		return evalString(ctx, t, `location.hash + " " + document.querySelector(".tab.active").dataset.tab`) == "#overview overview"
	})
	if id := evalString(ctx, t, `(document.querySelector("#rollout-body .rollout-head .id") || {}).textContent || ""`); id != live.ID {
		t.Errorf("the Overview's card is %q, want the live rollout %s", id, live.ID)
	}
	if note := evalString(ctx, t, `(document.getElementById("past-note") || {}).textContent || ""`); note != "" {
		t.Errorf("the live rollout was drawn as a past card: %q", note)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
