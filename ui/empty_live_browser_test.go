package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestEmptyGateway_LiveIndicatorSaysNoModel: on a gateway with no model
// yet (a new install) the page opens no event stream, and its indicator
// said "○ connecting…" for ever, as if the gateway did not answer. It now
// says there is no model to watch.
func TestEmptyGateway_LiveIndicatorSaysNoModel(t *testing.T) {
	g, secret := mustEmptyGateway(t)
	ctx, jsErrors := newBrowser(t)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), secret)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	time.Sleep(time.Second)
	txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("live").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(txt, "connecting") || !strings.Contains(txt, "no model") {
		t.Errorf("on a gateway with no model the live indicator reads %q; want it to say there is no model yet", txt)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
