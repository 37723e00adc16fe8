package ui_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestDashboard_ShadowSaysMoreAreKept: the Shadow review tab shows the
// newest 50 pairs and said nothing when more were kept, so a reviewer took
// the page for the whole run. It now says so, with the sluice rollout
// pairs command (its filters and --before) that lists the older ones,
// unfiltered and filtered alike, and nothing when all are shown.
func TestDashboard_ShadowSaysMoreAreKept(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g, send := shadowRun(t)
	send("general", 30)
	send("payments", 25)
	waitFor(t, "the pairs", 30*time.Second, func() bool { return len(g.Proxy.ShadowPairs("chat", 0)) == 55 })

	more := func(want bool) string {
		t.Helper()
		var out string
		waitFor(t, "the shadow list", 10*time.Second, func() bool {
			out = evalString(ctx, t, `(() => { const n = document.querySelectorAll("#shadow-list .pair").length; const m = document.getElementById("shadow-more");
			  return n ? n + "|" + (m ? m.textContent : "") : ""; })()`)
			return out != "" && strings.Contains(out, "Showing") == want
		})
		return out
	}
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#shadow-list .pair`)),
	); err != nil {
		t.Fatalf("open the Shadow review tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if got := more(true); !strings.HasPrefix(got, "50|Showing the newest 50 of the pairs kept; more are kept: sluice rollout pairs chat --before ") {
		t.Errorf("with 55 pairs kept the tab shows %q; want 50 pairs and a line saying more are kept and how to list them", got)
	}
	// Filtered: 25 differ, all shown, no line.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#shadow-differ"))); err != nil {
		t.Fatal(err)
	}
	if got := more(false); got != "25|" {
		t.Errorf("with the 25 differing pairs the tab shows %q; want 25 pairs and no line about more", got)
	}
	send("payments", 30)
	waitFor(t, "the pairs", 30*time.Second, func() bool { return len(g.Proxy.ShadowPairs("chat", 0)) == 85 })
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#shadow-differ")), chromedp.Click(chromedp.CSS("#shadow-differ"))); err != nil {
		t.Fatal(err)
	}
	if got := more(true); !strings.HasPrefix(got, "50|Showing the newest 50 of the pairs kept that match; more are kept: sluice rollout pairs chat --differ --before ") {
		t.Errorf("with 55 differing pairs the tab shows %q; want 50 and a line saying more match, with --differ", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestDashboard_ShadowOnAnEmptyGateway: on a gateway with no model yet the
// Shadow review tab was blank. It now says how shadow pairs come to be.
func TestDashboard_ShadowOnAnEmptyGateway(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	s, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	secret, err := s.CreateToken(context.Background(), "vera", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		signedIn(s.AdminURL(), secret),
		chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
	); err != nil {
		t.Fatalf("open the Shadow review tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var got string
	waitFor(t, "the Shadow review tab to say something", 10*time.Second, func() bool {
		got = evalString(ctx, t, `document.getElementById("shadow-list").textContent`)
		return got != ""
	})
	if !strings.Contains(got, "No model is registered yet") || !strings.Contains(got, "--strategy shadow") {
		t.Errorf("on a gateway without a model the Shadow review tab says %q; want how shadow pairs come to be", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
