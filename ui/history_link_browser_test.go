package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
)

// TestHistory_Link: a past rollout opened on the History tab was not in
// the page's address, so an SRE could not paste a link to a rolled-back
// rollout into an incident channel. Its card's address is now
// #history/MODEL/ID: a link opens the sign-in page first if needed, then
// that rollout's card; a row's click puts it in the address; Back and the
// browser's back return to the list; an unknown id says so.
func TestHistory_Link(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	older := seedEnded(t, g, "chat-rolled-back", time.Now().Add(-3*time.Hour).Truncate(time.Second))
	newer := seedEnded(t, g, "chat-next-try", time.Now().Add(-time.Hour).Truncate(time.Second))
	link := g.AdminURL() + "/ui/#history/chat/" + older.ID

	// Signed out: the link signs in first, then opens the card.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), g.viewer),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatalf("open the link %s: %v%s", link, err, pageText(ctx))
	}
	card := func() string {
		return evalString(ctx, t, `(document.querySelector("#past-body .rollout-head .id") || {}).textContent || ""`)
	}
	if id := card(); id != older.ID {
		t.Fatalf("the link opened %q, want %s%s", id, older.ID, pageText(ctx))
	}
	if tab := evalString(ctx, t, `document.querySelector(".tab.active").dataset.tab`); tab != "history" {
		t.Errorf("the link opened the %s tab, want history", tab)
	}

	// Back: the list, at #history; the browser's back: the card again.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#history-back")), chromedp.WaitVisible(chromedp.CSS(`#history-table tr[data-id="`+newer.ID+`"]`))); err != nil {
		t.Fatal(err)
	}
	if h := evalString(ctx, t, `location.hash`); h != "#history" {
		t.Errorf("after Back the address is %q, want #history", h)
	}
	if err := chromedp.Do(ctx, chromedp.NavigateBack(), chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase"))); err != nil {
		t.Fatalf("the browser's back: %v%s", err, pageText(ctx))
	}
	if id := card(); id != older.ID {
		t.Errorf("the browser's back shows %q, want %s", id, older.ID)
	}

	// A row's click puts its rollout in the address.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#history-back")),
		chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+newer.ID+`"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the card of "+newer.ID, 10*time.Second, func() bool { return card() == newer.ID })
	if h := evalString(ctx, t, `location.hash`); h != "#history/chat/"+newer.ID {
		t.Errorf("with %s open the address is %q, want #history/chat/%s", newer.ID, h, newer.ID)
	}
	// From another tab, the History tab goes back to the card open.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="overview"]`)),
		chromedp.Click(chromedp.CSS(`a[data-tab="history"]`)),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatal(err)
	}
	if id := card(); id != newer.ID {
		t.Errorf("back on the History tab the card is %q, want %s", id, newer.ID)
	}

	// An unknown id says so.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash = "#history/chat/chat-nope"`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#past-error"))); err != nil {
		t.Fatalf("a link to an unknown rollout: %v%s", err, pageText(ctx))
	}
	if msg := evalString(ctx, t, `document.getElementById("past-error").textContent`); !strings.Contains(msg, "model chat has no rollout chat-nope") {
		t.Errorf("a link to an unknown rollout says %q, want it to name the rollout missing", msg)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
