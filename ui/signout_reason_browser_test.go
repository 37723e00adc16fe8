package ui_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// signInNotice waits for the sign-in page and returns what it says above
// the form about why the session ended ("" when it says nothing).
func signInNotice(t *testing.T, ctx context.Context, what string) string {
	t.Helper()
	var st string
	waitFor(t, what, 20*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("login-form") ? "sign-in" : ""`))
		return err == nil && st == "sign-in"
	})
	notice, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const n = document.getElementById("login-notice"); return n && !n.hidden ? n.textContent : ""; })()`))
	if err != nil {
		t.Fatal(err)
	}
	return notice
}

// TestSignIn_SaysWhySessionEnded: a session that ends under an open
// dashboard (its token expired or was deleted, the gateway restarted) sent
// the page to the sign-in page with nothing but "Sign in with your admin
// token": an SRE watching a rollout pasted the same expired token again to
// learn why, or wondered whether someone had signed them out. The sign-in
// page now says why the session ended and what to do.
func TestSignIn_SaysWhySessionEnded(t *testing.T) {
	t.Run("TokenExpired", func(t *testing.T) {
		// The gateway's clock is moved past the token's expiry once the
		// page is signed in: a token that expired 3 s after it was made
		// had to outlast Chromium's start and the page's load, which a
		// loaded machine does not promise.
		var ahead atomic.Int64
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
		s, err := server.New(context.Background(), server.Options{Config: cfg, Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
		if err != nil {
			t.Fatalf("new gateway: %v", err)
		}
		if err := s.Start(); err != nil {
			t.Fatalf("start gateway: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
		adminSecret, err := s.CreateToken(context.Background(), "alice-admin", sluice.RoleAdmin, "test", "setup")
		if err != nil {
			t.Fatal(err)
		}
		admin := &api.Client{BaseURL: s.AdminURL(), Token: adminSecret}
		created, err := admin.CreateTokenWith(context.Background(), api.TokenRequest{Name: "contractor", Role: sluice.RoleOperator, ExpiresAt: time.Now().Add(10 * time.Minute), Reason: "a week's help"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, jsErrors := newBrowser(t)
		if err := chromedp.Do(ctx, signedIn(s.AdminURL(), created.Secret)); err != nil {
			t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
		}
		// Past the token's expiry, well within the session's idle hour.
		ahead.Store(int64(15 * time.Minute))
		// Any read of the page's now ends the session: open the Keys tab,
		// unless the page's own look for a model (every 3 s) found it first.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const a = document.querySelector('a[data-tab="keys"]'); if (a) a.click(); return true; })()`)); err != nil {
			t.Fatal(err)
		}
		notice := signInNotice(t, ctx, "the sign-in page after the token expired")
		if !strings.Contains(notice, "contractor expired at") || !strings.Contains(notice, "ask an admin for a new one") {
			t.Errorf("the sign-in page after the session's token expired says %q; want it to say the token expired and to ask an admin for a new one%s", notice, pageText(ctx))
		}
	})
	t.Run("TokenDeleted", func(t *testing.T) {
		g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
		admin := &api.Client{BaseURL: g.AdminURL(), Token: g.admin}
		created, err := admin.CreateTokenWith(context.Background(), api.TokenRequest{Name: "leaver", Role: sluice.RoleViewer, Reason: "on call"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, jsErrors := newBrowser(t)
		if err := chromedp.Do(ctx, signedIn(g.AdminURL(), created.Secret)); err != nil {
			t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
		}
		if err := admin.DeleteToken(context.Background(), "leaver", "left the team"); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[data-tab="keys"]`))); err != nil {
			t.Fatal(err)
		}
		notice := signInNotice(t, ctx, "the sign-in page after the token was deleted")
		if !strings.Contains(notice, "no longer known") {
			t.Errorf("the sign-in page after the session's token was deleted says %q; want it to say the token is no longer known%s", notice, pageText(ctx))
		}
	})
	t.Run("GatewayRestarted", func(t *testing.T) {
		start, stop := restartable(t)
		a := start()
		secret, err := a.CreateToken(context.Background(), "victor-viewer", sluice.RoleViewer, "test", "setup")
		if err != nil {
			t.Fatal(err)
		}
		ctx, jsErrors := newBrowser(t)
		if err := chromedp.Do(ctx, signedIn(a.AdminURL(), secret)); err != nil {
			t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
		}
		stop(a)
		b := start()
		t.Cleanup(func() { stop(b) })
		notice := signInNotice(t, ctx, "the sign-in page after the gateway restarted")
		if !strings.Contains(notice, "session has ended") || !strings.Contains(notice, "restart") || !strings.Contains(notice, "sign in again") {
			t.Errorf("the sign-in page after a gateway restart says %q; want it to say the session ended, that a restart ends sessions, and to sign in again%s", notice, pageText(ctx))
		}
		// A page opened afresh with the old cookie (another tab, a
		// bookmark) says so too.
		if err := chromedp.Do(ctx, chromedp.Navigate(b.AdminURL()+"/ui/")); err != nil {
			t.Fatal(err)
		}
		if notice := signInNotice(t, ctx, "the sign-in page opened with the old session's cookie"); !strings.Contains(notice, "session has ended") {
			t.Errorf("the sign-in page opened with a session cookie the gateway no longer holds says %q; want it to say the session ended", notice)
		}
		// Signed in again, then out: the sign-in page says nothing.
		if err := chromedp.Do(ctx, chromedp.Steps(
			chromedp.SendKeys(chromedp.CSS("#token"), secret),
			chromedp.Click(chromedp.CSS("#login-button")),
			chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
			chromedp.Click(chromedp.CSS("#logout")),
		)); err != nil {
			t.Fatalf("sign in again and out: %v%s", err, pageText(ctx))
		}
		if notice := signInNotice(t, ctx, "the sign-in page after signing out"); notice != "" {
			t.Errorf("after signing out the sign-in page says %q; want nothing (the person signed out)", notice)
		}
	})
}
