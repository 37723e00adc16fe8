package ui_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// TestHistory_PastVerdicts: a past rollout's card listed only the verdicts
// its events kept (those of analyses that decided something), while the
// live card lists every analysis, read from the audit. An aborted canary
// that ran a dozen analyses and decided nothing showed none. The past
// card now reads them from the audit through the admin API, as the live
// card does, newest first.
func TestHistory_PastVerdicts(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	failures := listenFailures(t, ctx)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	startLoad(t, g.URL(), 2)
	bg := context.Background()
	ro := startLive(t, g, "v1.1.0", "canary to be aborted")

	// verdictTimes are the verdicts of ro the audit holds, by time.
	verdictTimes := func() map[time.Time]bool {
		t.Helper()
		entries, err := g.Store.Audit(bg, sluice.AuditQuery{Model: "chat", Action: "rollout.", Text: ro.ID})
		if err != nil {
			t.Fatal(err)
		}
		out := map[time.Time]bool{}
		for _, e := range entries {
			var after struct {
				Verdict *sluice.Verdict `json:"verdict"`
			}
			if e.Subject == ro.ID && json.Unmarshal(e.After, &after) == nil && after.Verdict != nil && !after.Verdict.At.IsZero() {
				out[after.Verdict.At.UTC()] = true
			}
		}
		return out
	}
	waitFor(t, "five analyses of the canary", 30*time.Second, func() bool { return len(verdictTimes()) >= 5 })
	if _, err := g.Rollouts.Act(bg, "olga-operator", "chat", rollout.EvAbort, "p99 doubled"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	want := verdictTimes()
	list, err := g.Store.RolloutHistory(bg, sluice.RolloutQuery{Model: "chat", ID: ro.ID, Limit: 1})
	if err != nil || len(list) != 1 {
		t.Fatalf("rollout %s from the store: %v %v", ro.ID, list, err)
	}
	for _, e := range list[0].Events {
		var v sluice.Verdict
		if len(e.Data) > 0 && json.Unmarshal(e.Data, &v) == nil && v.Metrics != nil {
			want[v.At.UTC()] = true
		}
	}

	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="history"]`)),
		chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+ro.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatalf("open %s: %v%s", ro.ID, err, pageText(ctx))
	}
	type row struct {
		Outcome string
		Muted   bool
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]row](`Array.from(document.querySelectorAll("#past-verdict-history li")).map((li) => ({Outcome: (li.querySelector(".chip") || {}).textContent || "", Muted: li.classList.contains("muted")}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Fatalf("the past card lists %d verdicts %v; the audit and events hold %d", len(rows), rows, len(want))
	}
	for i, r := range rows {
		if r.Muted || r.Outcome == "" {
			t.Errorf("verdict row %d = %+v, want a verdict with its outcome", i, r)
		}
	}
	// A row opens its verdict beside, titled by its time.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#past-verdict-history li:last-child"))); err != nil {
		t.Fatal(err)
	}
	if title := evalString(ctx, t, `document.getElementById("past-verdict-box").textContent`); !strings.Contains(title, "Verdict of ") {
		t.Errorf("clicking the oldest verdict shows %q, want it titled 'Verdict of …'", title)
	}
	if bad := failures(); len(bad) > 0 {
		t.Errorf("failed requests or console errors:\n  %s", strings.Join(bad, "\n  "))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
