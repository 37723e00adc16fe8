package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_ShowsTheTokensExpiry: a session signed in with a token
// that expires ended when it did, with no warning beforehand (trial-ui
// finding 11). The header now gives the token's expiry beside its name,
// marked when it is within a day; a token that never expires shows none.
func TestDashboard_ShowsTheTokensExpiry(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	admin := api.NewClient(g.AdminURL(), g.admin)
	ends := time.Now().Add(2 * time.Hour).UTC()
	created, err := admin.CreateTokenWith(context.Background(), api.TokenRequest{Name: "contractor", Role: sluice.RoleViewer, ExpiresAt: ends, Reason: "an afternoon's help"})
	if err != nil {
		t.Fatal(err)
	}
	header := func() string {
		return evalString(ctx, t, `(() => { const e = document.getElementById("token-expires"); return e ? e.className + "|" + e.textContent : ""; })()`)
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), created.Secret)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	want := "token expires " + ends.Truncate(time.Second).Format("2006-01-02 15:04:05") + " UTC"
	if got := header(); !strings.HasSuffix(got, "|"+want) || !strings.Contains(got, "soon") {
		t.Errorf("signed in with a token expiring in 2 hours, the header's expiry reads %q; want %q, marked soon", got, want)
	}
	// A token without an expiry: nothing said.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/ui/logout", {method: "POST", headers: {"X-Sluice-CSRF": document.querySelector('meta[name="sluice-csrf"]').content}}).then((r) => r.status)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign in again: %v%s", err, pageText(ctx))
	}
	if got := header(); got != "" {
		t.Errorf("signed in with a token that never expires, the header says %q", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
