package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// tokenRecheck is how often the page asks for its session (app.js's
// TOKEN_RECHECK_MS): the bound on noticing a token renewed is two of them
// and the answer's time, never tuned to this machine.
const tokenRecheck = 15 * time.Second

// TestDashboard_TokenExpiryLive: the header gave the token's expiry as of
// the page's load and nothing more: a token renewed meanwhile still read
// as expiring, and one that ran out said nothing until a request failed.
// It now counts down, and says without a reload when the token is renewed
// (a config file's token given a later expires and reloaded, here
// Auth.SetStatic as SIGHUP calls it) or runs out.
func TestDashboard_TokenExpiryLive(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	const secret = "sluice_contractor-5f2c9a7e41d0b3c8"
	fileToken := func(ends time.Time) {
		t.Helper()
		if err := g.API.Auth().SetStatic(context.Background(), []sluice.Token{{Name: "contractor", Role: sluice.RoleViewer, Hash: sluice.HashSecret(secret), ExpiresAt: ends}}); err != nil {
			t.Fatal(err)
		}
	}
	type header struct {
		Expires string `json:"expires"`
		Left    string `json:"left"`
		Flash   string `json:"flash"`
	}
	read := func() header {
		t.Helper()
		h, err := chromedp.Run(ctx, chromedp.Evaluate[header](`(() => { const t = (id) => { const e = document.getElementById(id); return e && !e.hidden ? e.textContent : ""; };
		  return {expires: t("token-expires"), left: t("token-left"), flash: t("flash")}; })()`))
		if err != nil {
			t.Fatalf("read the header: %v", err)
		}
		return h
	}
	stamp := func(at time.Time) string { return at.UTC().Format("2006-01-02 15:04:05") + " UTC" }

	ends := time.Now().Add(time.Hour)
	fileToken(ends)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), secret)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	first := read()
	if first.Expires != "token expires "+stamp(ends) || !strings.HasPrefix(first.Left, "(in 59m ") && !strings.HasPrefix(first.Left, "(in 1h 00m") {
		t.Fatalf("signed in with a token expiring in an hour, the header reads %+v; want its expiry and the time left, (in 59m …)", first)
	}
	// Counting down: the seconds shown move without a reload.
	waitFor(t, "the countdown to move on from "+first.Left, 10*time.Second, func() bool { h := read(); return h.Left != first.Left && strings.HasPrefix(h.Left, "(in ") })

	// Renewed: two hours more.
	renewed := ends.Add(2 * time.Hour)
	fileToken(renewed)
	var h header
	waitFor(t, "the page to see the token renewed", 2*tokenRecheck+5*time.Second, func() bool {
		h = read()
		return h.Expires == "token expires "+stamp(renewed)
	})
	if !strings.HasPrefix(h.Left, "(in 2h 5") && !strings.HasPrefix(h.Left, "(in 3h 00m") || !strings.Contains(h.Flash, "Your token was renewed: it now expires "+stamp(renewed)) {
		t.Errorf("renewed to %s, the header reads %+v; want the new expiry, the time left, and a line saying it was renewed", stamp(renewed), h)
	}

	// Running out: signed in again with the token ending in a few
	// seconds, the countdown reaches zero and the page goes to the sign-in
	// page with the gateway's reason, without a reload by hand.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch("/ui/logout", {method: "POST", headers: {"X-Sluice-CSRF": document.querySelector('meta[name="sluice-csrf"]').content}}).then((r) => r.status)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	soon := time.Now().Add(20 * time.Second)
	fileToken(soon)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), secret)); err != nil {
		t.Fatalf("sign in again: %v%s", err, pageText(ctx))
	}
	if h = read(); h.Expires != "token expires "+stamp(soon) || !strings.HasPrefix(h.Left, "(in 0m ") {
		t.Errorf("signed in with a token ending in 20 s, the header reads %+v; want its expiry and the seconds left", h)
	}
	var notice string
	waitFor(t, "the sign-in page once the token ran out", time.Until(soon)+tokenRecheck+5*time.Second, func() bool {
		notice, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.getElementById("login-notice"); return e && !e.hidden ? e.textContent : ""; })()`))
		return notice != ""
	})
	if !strings.Contains(notice, "contractor expired at") {
		t.Errorf("after the token ran out the sign-in page says %q; want that it expired", notice)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestDashboard_TokenGivenAnExpiryLive: a token signed in without an
// expiry that is given one later (a config file's token given expires and
// reloaded) shows it without a reload: the header had no place for it.
func TestDashboard_TokenGivenAnExpiryLive(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	const secret = "sluice_contractor-8d1e2f3a4b5c6d7e"
	fileToken := func(ends time.Time) {
		t.Helper()
		if err := g.API.Auth().SetStatic(context.Background(), []sluice.Token{{Name: "contractor", Role: sluice.RoleViewer, Hash: sluice.HashSecret(secret), ExpiresAt: ends}}); err != nil {
			t.Fatal(err)
		}
	}
	fileToken(time.Time{})
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), secret)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	read := func() string {
		t.Helper()
		return evalString(ctx, t, `(() => { const e = document.getElementById("token-expires"); return (e && !e.hidden ? e.textContent : "") + "|" + ((document.getElementById("token-left") || {}).textContent || "") + "|" + document.getElementById("flash").textContent; })()`)
	}
	if got := read(); strings.HasPrefix(got, "token expires") {
		t.Fatalf("signed in with a token that never expires, the header reads %q", got)
	}
	ends := time.Now().Add(3 * time.Hour)
	fileToken(ends)
	want := "token expires " + ends.UTC().Format("2006-01-02 15:04:05") + " UTC"
	var got string
	waitFor(t, "the page to see the token given an expiry", 2*tokenRecheck+5*time.Second, func() bool {
		got = read()
		return strings.HasPrefix(got, want+"|(in 2h 5") || strings.HasPrefix(got, want+"|(in 3h 00m")
	})
	if !strings.Contains(got, "Your token now expires") {
		t.Errorf("given an expiry, the header and flash read %q; want a line saying the token now expires", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
