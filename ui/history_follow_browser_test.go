package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// TestHistory_FollowsTheLiveRollout: the History list was read when its
// tab opened or Refresh was clicked, so the live rollout's row said
// "progressing" after it had been aborted, until one of those. The list
// now follows the live rollout through the updates the page already gets:
// shown, it is redrawn when the rollout ends; under an open card, when
// Back shows it.
func TestHistory_FollowsTheLiveRollout(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	failures := listenFailures(t, ctx)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	bg := context.Background()
	first := startLive(t, g, "v1.1.0", "first canary")
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.operator),
		chromedp.Click(chromedp.CSS(`a[data-tab="history"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history-table tr[data-id="`+first.ID+`"]`)),
	); err != nil {
		t.Fatalf("history tab: %v%s", err, pageText(ctx))
	}
	if rows := historyRows(ctx, t); len(rows) != 1 || rows[0].Cells[4] != "progressing" {
		t.Fatalf("history %v, want the live canary progressing", rows)
	}
	if _, err := g.Rollouts.Act(bg, "olga-operator", "chat", rollout.EvAbort, "p99 doubled"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	waitFor(t, "the list to show the canary aborted", 20*time.Second, func() bool {
		rows := historyRows(ctx, t)
		return len(rows) == 1 && rows[0].Cells[4] == "aborted"
	})

	// Under an open card: the next rollout starts; Back shows it.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+first.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatalf("open %s: %v%s", first.ID, err, pageText(ctx))
	}
	second := startLive(t, g, "v1.1.0", "second canary")
	waitFor(t, "the live card to show the second canary", 20*time.Second, func() bool {
		return evalString(ctx, t, `(document.querySelector("#rollout-body .rollout-head .id") || {}).textContent || ""`) == second.ID
	})
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#history-back"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the list to show the second canary", 20*time.Second, func() bool {
		rows := historyRows(ctx, t)
		return len(rows) == 2 && rows[0].ID == second.ID && rows[1].ID == first.ID
	})
	if bad := failures(); len(bad) > 0 {
		t.Errorf("failed requests or console errors:\n  %s", strings.Join(bad, "\n  "))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
