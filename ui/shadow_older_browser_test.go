package ui_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboard_ShadowOlder: the Shadow review tab showed the newest 50
// pairs and named the CLI command for the older ones, with no way to see
// them on the page. Older now adds the 50 before those shown, as the
// admin API pages them (before the last seq shown), filtered or not, until
// none are left; the list is the pairs kept, newest first, each once.
func TestDashboard_ShadowOlder(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g, send := shadowRun(t)
	send("general", 70)
	send("payments", 60) // the candidate refuses these: they differ
	waitFor(t, "the pairs", 30*time.Second, func() bool { return len(g.Proxy.ShadowPairs("chat", 0)) == 130 })
	var all, differ []string
	seqOf := map[string]int64{}
	for _, p := range g.Proxy.ShadowPairs("chat", 0) {
		all = append(all, p.RequestID)
		seqOf[p.RequestID] = p.Seq
		if p.Category == "payments" {
			differ = append(differ, p.RequestID)
		}
	}

	type list struct {
		IDs   []string `json:"ids"`
		More  string   `json:"more"`
		Older bool     `json:"older"`
	}
	const read = `(() => { const m = document.getElementById("shadow-more"), o = document.getElementById("shadow-older");
	  return {ids: Array.from(document.querySelectorAll("#shadow-list .pair .pair-head .mono")).map(e => e.textContent),
	    more: m && !m.hidden ? m.textContent : "", older: !o.hidden && !o.disabled}; })()`
	wait := func(what string, n int) list {
		t.Helper()
		var l list
		waitFor(t, what, 15*time.Second, func() bool {
			var err error
			if l, err = chromedp.Run(ctx, chromedp.Evaluate[list](read)); err != nil {
				t.Fatalf("read the Shadow review tab: %v", err)
			}
			return len(l.IDs) == n
		})
		return l
	}
	older := func() {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#shadow-older"))); err != nil {
			t.Fatalf("click Older: %v%s", err, pageText(ctx))
		}
	}
	check := func(l list, want []string, more string, hasOlder bool) {
		t.Helper()
		if !slices.Equal(l.IDs, want) {
			t.Errorf("the tab lists %d pairs %v…; want the %d newest kept, newest first, each once: %v…", len(l.IDs), l.IDs[:3], len(want), want[:3])
		}
		if !strings.HasPrefix(l.More, more) || more == "" && l.More != "" {
			t.Errorf("the line above the pairs says %q; want it to start %q", l.More, more)
		}
		if l.Older != hasOlder {
			t.Errorf("Older shown: %v; want %v (line: %q)", l.Older, hasOlder, l.More)
		}
	}

	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#shadow-list .pair`)),
	); err != nil {
		t.Fatalf("open the Shadow review tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	check(wait("the first page", 50), all[:50], fmt.Sprintf("Showing the newest 50 of the pairs kept; more are kept: sluice rollout pairs chat --before %d lists", seqOf[all[49]]), true)
	older()
	check(wait("the second page", 100), all[:100], fmt.Sprintf("Showing the newest 100 of the pairs kept; more are kept: sluice rollout pairs chat --before %d lists", seqOf[all[99]]), true)
	older()
	check(wait("the last page", 130), all, "Showing 130 pairs, down to the oldest kept.", false)

	// Filtered: the 60 that differ, 50 then 10.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#shadow-differ"))); err != nil {
		t.Fatal(err)
	}
	check(wait("the first page that differs", 50), differ[:50], fmt.Sprintf("Showing the newest 50 of the pairs kept that match; more are kept: sluice rollout pairs chat --differ --before %d lists", seqOf[differ[49]]), true)
	older()
	check(wait("the rest that differ", 60), differ, "Showing 60 pairs that match, down to the oldest kept.", false)
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
