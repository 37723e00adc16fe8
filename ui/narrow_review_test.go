package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// pastRightEdge lists the visible elements that reach past the window's
// edges while their parent does not (the outermost of each), leaving out
// those clipped by a box that scrolls or hides what overflows it, and the
// page's width against the window's: empty when nothing makes the page
// scroll sideways or hides off screen.
const pastRightEdge = `(() => {
  const W = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > W) out.push("page " + document.documentElement.scrollWidth + " px wide in a " + W + " px window");
  const clipped = (e) => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true; return false; };
  document.querySelectorAll('body *').forEach(e => {
    if (e.offsetParent === null || clipped(e)) return;
    const r = e.getBoundingClientRect(), p = e.parentElement.getBoundingClientRect();
    if (r.width > 0 && (r.right > W + 1 || r.left < -1) && p.right <= W + 1 && p.left >= -1) out.push((e.id ? "#" + e.id : e.tagName.toLowerCase() + "." + e.className) + " spans " + Math.round(r.left) + ".." + Math.round(r.right));
  });
  return out;
})()`

// TestNarrowWindowFitsThePage opens the dashboard in a 400 px wide window
// (a phone) during a canary: before, the header ran off the right edge
// (the user's name and Sign out past it, white on the page's background),
// the models, verdict and category tables widened the page to ~780 px
// while the cards stayed 400 px, so every table spilled out of its card
// and the page scrolled sideways. Now the header wraps, a wide table
// scrolls inside its card, and no view is wider than the window: the
// sign-in, the overview with a verdict, the audit log, the shadow review
// and the request log (whose sixth tab made the tab bar wrap).
func TestNarrowWindowFitsThePage(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	b := fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 5, P99MS: 15}, OutputTokens: fakellm.TokenCount{Mean: 40, Spread: 10}}
	g := MustGateway(t, MustBackend(t, fakellm.Config{Default: b}), MustBackend(t, fakellm.Config{Seed: 3, Default: b}))
	startLoad(t, g.URL(), 2)
	startCanary(t, g)
	base := g.AdminURL()

	fits := func(view string) {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](pastRightEdge))
		if err != nil {
			t.Fatalf("%s: measure: %v", view, err)
		}
		if len(out) > 0 {
			t.Errorf("%s in a 400 px window reaches past its right edge:\n  %s", view, strings.Join(out, "\n  "))
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(400, 850, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/ui"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
	); err != nil {
		t.Fatalf("sign-in page: %v", err)
	}
	fits("the sign-in page")
	if err := chromedp.Do(ctx,
		signInAs(base, g.operator),
		chromedp.WaitVisible(chromedp.CSS("#verdict-box table tbody tr")),
		chromedp.WaitVisible(chromedp.CSS("#categories-table tbody tr")),
	); err != nil {
		t.Fatalf("overview: %v%s", err, pageText(ctx))
	}
	fits("the overview")
	// The verdict's table is wider than a phone: it scrolls in its card.
	scrolls, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const t = document.querySelector('#verdict-box table'); return t.scrollWidth > t.clientWidth && getComputedStyle(t).overflowX === 'auto'; })()`))
	if err != nil || !scrolls {
		t.Errorf("the verdict table does not scroll sideways within its card (%v)", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="audit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#audit-table tbody tr")),
	); err != nil {
		t.Fatalf("audit: %v", err)
	}
	fits("the audit tab")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
		chromedp.WaitVisible(chromedp.CSS("#tab-shadow")),
	); err != nil {
		t.Fatalf("shadow: %v", err)
	}
	fits("the shadow review")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="requests"]`)),
		chromedp.WaitVisible(chromedp.CSS("#requests-table tbody tr")),
	); err != nil {
		t.Fatalf("requests: %v", err)
	}
	fits("the requests tab")
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
