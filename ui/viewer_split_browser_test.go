package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestViewerSplitNoReasonAsked: the split editor asked a viewer for a
// reason ("Give a reason for the split"), though the rollout card asks a
// viewer for none and the server refuses a viewer's split whatever the
// reason: a viewer typed one to learn they may not act. The split's reason
// box is hidden from a viewer, as the rollout's is, and the click goes to
// the server, whose refusal names the role; nothing changes.
func TestViewerSplitNoReasonAsked(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS("#split-editor summary")),
		chromedp.WaitVisible(chromedp.CSS("#split-inputs input")),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if hidden := evalString(ctx, t, `String(document.getElementById("split-reason").offsetParent === null)`); hidden != "true" {
		t.Errorf("the split's reason box is shown to a viewer")
	}
	before := g.Control.Registry().Models["chat"].Policy.String()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#split-form button[type="submit"]`))); err != nil {
		t.Fatalf("viewer click: %v", err)
	}
	var flash string
	waitFor(t, "the page's answer to the click", 10*time.Second, func() bool {
		flash = evalString(ctx, t, `document.getElementById("flash").hidden ? "" : document.getElementById("flash").textContent`)
		return flash != ""
	})
	if !strings.HasPrefix(flash, "Refused") || !strings.Contains(flash, "viewer") {
		t.Errorf("the viewer's Set split shows %q, want the server's refusal naming the role", flash)
	}
	if after := g.Control.Registry().Models["chat"].Policy.String(); after != before {
		t.Errorf("the viewer's click changed chat's policy: %s → %s", before, after)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
