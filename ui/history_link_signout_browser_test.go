package ui_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestHistory_LinkKeptThroughSignOut: with a past rollout's card open
// (#history/MODEL/ID), a session that ends (signed out elsewhere, the
// cookie gone, the token deleted) sends the page back to the sign-in
// page on its next admin call; signed in again, the same card opens,
// because the 401 path loads the page again with its address kept.
func TestHistory_LinkKeptThroughSignOut(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	past := seedEnded(t, g, "chat-rolled-back", time.Now().Add(-3*time.Hour).Truncate(time.Second))
	// A rollout under way: each tick of its stream reads the status
	// through the admin API, the call that meets the ended session.
	startLive(t, g, "v1.1.0", "canary under way")
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.Navigate(g.AdminURL()+"/ui/#history/chat/"+past.ID),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{})
			return err
		}),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), g.viewer),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatalf("sign in again on the card of %s: %v%s", past.ID, err, pageText(ctx))
	}
	if id := evalString(ctx, t, `(document.querySelector("#past-body .rollout-head .id") || {}).textContent || ""`); id != past.ID {
		t.Errorf("signed in again, the card is %q, want %s", id, past.ID)
	}
	if h := evalString(ctx, t, `location.hash`); h != "#history/chat/"+past.ID {
		t.Errorf("signed in again, the address is %q, want #history/chat/%s", h, past.ID)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
