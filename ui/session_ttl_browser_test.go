package ui_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// TestSignIn_SaysWhySessionRanOut: a session that reached its lifetime
// (8 hours by default) sent the page to a sign-in page that said "Sign in
// to the dashboard with an admin token: open /ui/", not that the session
// had ended: the cookie's Max-Age was the session's lifetime, so the
// browser dropped it as the session ended, and the gateway, sent no
// cookie, could not tell the page was ever signed in. The cookie now
// outlives the session, so the gateway names the session it no longer
// holds and says why.
func TestSignIn_SaysWhySessionRanOut(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	const ttl = 4 * time.Second
	dash := ui.New(ui.Options{API: g.API, Control: g.Control, Windows: g.Recorder, SessionTTL: ttl})
	ts := httptest.NewServer(dash.Handler())
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	ctx, jsErrors := newBrowser(t) // closed before the server
	if err := chromedp.Do(ctx, signedIn(ts.URL, g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	signedAt := time.Now()
	time.Sleep(time.Until(signedAt.Add(ttl + 500*time.Millisecond)))
	// Any read of the page's now finds the session ended: open the
	// History tab, unless a read of the page's own (its categories, every
	// few seconds) found it first.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const a = document.querySelector('a[data-tab="history"]'); if (a) a.click(); return true; })()`)); err != nil {
		t.Fatal(err)
	}
	notice := signInNotice(t, ctx, "the sign-in page after the session's lifetime")
	if !strings.Contains(notice, "session has ended") || !strings.Contains(notice, "a session lasts 4s") {
		t.Errorf("the sign-in page after the session reached its lifetime says %q; want it to say the session ended and how long one lasts%s", notice, pageText(ctx))
	}
}
