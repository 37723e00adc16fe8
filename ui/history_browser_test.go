package ui_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// historyRow is a row of the History tab's table, as the page shows it.
type historyRow struct {
	ID    string   `json:"id"`
	Cells []string `json:"cells"`
}

const readHistory = `Array.from(document.querySelectorAll('#history-table tbody tr[data-id]')).map(tr => ({id: tr.dataset.id, cells: Array.from(tr.children).map(td => td.textContent)}))`

func historyRows(ctx context.Context, t *testing.T) []historyRow {
	t.Helper()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]historyRow](readHistory))
	if err != nil {
		t.Fatalf("read the history: %v", err)
	}
	return rows
}

// duplicateIDs lists the ids more than one element of the page has: the
// card of an earlier rollout must not take the live card's.
const duplicateIDs = `(() => { const seen = {}, dup = []; document.querySelectorAll('[id]').forEach(e => { if (seen[e.id]) dup.push(e.id); seen[e.id] = true; }); return dup; })()`

// startAfterDrain starts a rollout of spec, waiting while the version it
// names is still being rolled back (the abort before drains it).
func startAfterDrain(t *testing.T, g *gateway, reason string, spec sluice.RolloutSpec) sluice.Rollout {
	t.Helper()
	var r sluice.Rollout
	var err error
	waitFor(t, "the rollout to "+spec.Candidate+" to start", 20*time.Second, func() bool {
		r, err = g.Rollouts.Start(context.Background(), "alice-admin", reason, spec)
		if err != nil && !strings.Contains(err.Error(), "still being rolled back") {
			t.Fatalf("start a rollout to %s: %v", spec.Candidate, err)
		}
		return err == nil
	})
	return r
}

// startLive starts a canary of chat to cand (warm-up skipped) and waits
// until it takes traffic.
func startLive(t *testing.T, g *gateway, cand, reason string) sluice.Rollout {
	t.Helper()
	spec := canarySpec()
	spec.Candidate, spec.Warmup = cand, sluice.WarmupSpec{Skip: true}
	r := startAfterDrain(t, g, reason, spec)
	waitFor(t, "the canary to "+cand+" to go live", 20*time.Second, func() bool {
		cur := g.Control.Registry().Rollouts["chat"]
		return cur != nil && cur.ID == r.ID && cur.Phase == sluice.PhaseProgressing
	})
	return r
}

// TestHistory_Browser: the dashboard showed only a model's latest
// rollout; what happened to the ones before was in the CLI and the API
// alone. The History tab lists them, newest first, a page at a time (Older
// as the API pages), each with when it started, its strategy, baseline →
// candidate, final phase, how it ended in a few words, who started it and
// why, and how long it took; a row opens that rollout's card, read-only,
// with its timeline, events and last verdict, while the live card on the
// Overview stays as it is; Back returns to the list as it was.
//
// Three rollouts of chat through a real gateway under load: a canary
// promoted by an operator, one aborted, one live; between the first two,
// 18 quickly aborted ones, so that the promoted one is on the second page.
func TestHistory_Browser(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	failures := listenFailures(t, ctx)
	b := fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 5, P99MS: 15}, OutputTokens: fakellm.TokenCount{Mean: 40, Spread: 10}}
	g := MustGateway(t, MustBackend(t, fakellm.Config{Default: b}), MustBackend(t, fakellm.Config{Seed: 3, Default: b}))
	startLoad(t, g.URL(), 2)
	bg := context.Background()

	promoted := startLive(t, g, "v1.1.0", "canary of the new fine-tune")
	waitFor(t, "a verdict of the first canary", 30*time.Second, func() bool {
		return len(g.Control.Registry().Rollouts["chat"].LastVerdict) > 0
	})
	if _, err := g.Rollouts.Act(bg, "olga-operator", "chat", rollout.EvPromote, "canary held on refusals"); err != nil {
		t.Fatalf("promote: %v", err)
	}
	waitFor(t, "the promotion", 10*time.Second, func() bool { return g.Control.Registry().Rollouts["chat"].Phase == sluice.PhasePromoted })
	for i := range 18 {
		spec := canarySpec()
		spec.Candidate, spec.Warmup = "v1.0.0", sluice.WarmupSpec{Skip: true}
		startAfterDrain(t, g, fmt.Sprintf("quick check %d", i), spec)
		if _, err := g.Rollouts.Act(bg, "alice-admin", "chat", rollout.EvAbort, fmt.Sprintf("quick check %d done", i)); err != nil {
			t.Fatalf("abort quick check %d: %v", i, err)
		}
	}
	aborted := startLive(t, g, "v1.0.0", "back to v1.0.0 for the payments team")
	if _, err := g.Rollouts.Act(bg, "olga-operator", "chat", rollout.EvAbort, "p99 doubled on payments"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	live := startLive(t, g, "v1.0.0", "second try for the payments team")
	stored := func(id string) sluice.Rollout {
		t.Helper()
		list, err := g.Store.RolloutHistory(bg, sluice.RolloutQuery{Model: "chat", ID: id, Limit: 1})
		if err != nil || len(list) != 1 {
			t.Fatalf("rollout %s from the store: %v %v", id, list, err)
		}
		return list[0]
	}
	promotedR, abortedR := stored(promoted.ID), stored(aborted.ID)

	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.operator),
		chromedp.Click(chromedp.CSS(`a[data-tab="history"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history-table tbody tr[data-id]`)),
	); err != nil {
		t.Fatalf("history tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	rows := historyRows(ctx, t)
	if len(rows) != 20 {
		t.Fatalf("the first page has %d rows, want 20 (the API's page): %v", len(rows), rows)
	}
	// Started, rollout, strategy, baseline → candidate, phase, how it
	// ended, started by, why, took.
	if r := rows[0]; r.ID != live.ID || r.Cells[4] != "progressing" || r.Cells[3] != "v1.1.0 → v1.0.0" || r.Cells[2] != "canary" ||
		r.Cells[6] != "alice-admin" || r.Cells[7] != "second try for the payments team" || !strings.HasSuffix(r.Cells[8], " so far") || !strings.HasPrefix(r.Cells[5], "under way") {
		t.Errorf("first row %v; want the live canary %s, under way", r, live.ID)
	}
	wantStarted := abortedR.StartedAt.UTC().Format("2006-01-02 15:04:05")
	if r := rows[1]; r.ID != aborted.ID || r.Cells[4] != "aborted" || r.Cells[0] != wantStarted || r.Cells[7] != "back to v1.0.0 for the payments team" ||
		!strings.Contains(r.Cells[5], "aborted") || strings.Contains(r.Cells[5], "; ") || r.Cells[8] == "–" || strings.HasSuffix(r.Cells[8], "so far") {
		t.Errorf("second row %v; want the aborted one %s started %s, its outcome in a few words and how long it took (decision %q)", r, aborted.ID, wantStarted, abortedR.Decision)
	}
	if older := evalString(ctx, t, `String(!document.getElementById("history-older").hidden)`); older != "true" {
		t.Fatalf("no Older button with 21 rollouts and 20 shown")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#history-older"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the older page", 10*time.Second, func() bool { return len(historyRows(ctx, t)) == 21 })
	rows = historyRows(ctx, t)
	if r := rows[20]; r.ID != promoted.ID || r.Cells[4] != "promoted" || r.Cells[7] != "canary of the new fine-tune" || r.Cells[3] != "v1.0.0 → v1.1.0" {
		t.Errorf("last row %v; want the promoted canary %s", r, promoted.ID)
	}
	if older := evalString(ctx, t, `String(!document.getElementById("history-older").hidden)`); older != "false" {
		t.Errorf("the Older button shows after the last page")
	}

	shoot(ctx, t, "dashboard-history.png")

	// The promoted canary, whole and read-only.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+promoted.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatalf("open %s: %v%s", promoted.ID, err, pageText(ctx))
	}
	type card struct {
		Phase, Decision, Verdict, Started string
		Events, Steps                     int
		Dups                              []string
		LivePhase, LiveID                 string
		ListShown, Buttons                bool
	}
	readCard := func() card {
		c, err := chromedp.Run(ctx, chromedp.Evaluate[card](`(() => {
  const txt = (id) => { const e = document.getElementById(id); return e ? e.textContent : ""; };
  const dup = `+duplicateIDs+`;
  return {Phase: txt("past-rollout-phase"), Decision: txt("past-rollout-decision"), Verdict: txt("past-verdict-outcome"), Started: txt("past-rollout-started"),
    Events: document.querySelectorAll("#past-rollout-events li").length, Steps: document.querySelectorAll("#past-stage-timeline .step").length,
    Dups: dup, LivePhase: txt("rollout-phase"), LiveID: document.querySelector("#rollout-body .rollout-head .id").textContent,
    ListShown: !document.getElementById("history-list").hidden, Buttons: !!document.querySelector("#history-past button[data-action]")};
})()`))
		if err != nil {
			t.Fatalf("read the card: %v", err)
		}
		return c
	}
	shoot(ctx, t, "dashboard-history-card.png")
	c := readCard()
	if c.Phase != "promoted" || c.Decision != "Decision: "+promotedR.Decision || c.Events != len(promotedR.Events) || c.Steps != 3 || c.Verdict == "" {
		t.Errorf("card of %s: %+v; want promoted, its decision %q, its %d events, 3 steps and its last verdict", promoted.ID, c, promotedR.Decision, len(promotedR.Events))
	}
	if !strings.Contains(c.Started, "by alice-admin: canary of the new fine-tune") || !strings.Contains(c.Started, "took ") {
		t.Errorf("card's head %q: want who started it, why, and how long it took", c.Started)
	}
	if c.ListShown || c.Buttons || len(c.Dups) > 0 {
		t.Errorf("card of %s: list shown %v, action buttons %v, ids shared with the live card %v", promoted.ID, c.ListShown, c.Buttons, c.Dups)
	}
	if c.LivePhase != "progressing" || c.LiveID != live.ID {
		t.Errorf("the live card shows %s %s, want %s progressing", c.LiveID, c.LivePhase, live.ID)
	}

	// Back to the list as it was, both pages; then the aborted one, its
	// timeline stopped at the canary.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#history-back")), chromedp.WaitVisible(chromedp.CSS("#history-table"))); err != nil {
		t.Fatal(err)
	}
	if n := len(historyRows(ctx, t)); n != 21 {
		t.Errorf("back in the list: %d rows, want the 21 shown before", n)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+aborted.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#past-rollout-phase")),
	); err != nil {
		t.Fatalf("open %s: %v%s", aborted.ID, err, pageText(ctx))
	}
	c = readCard()
	if c.Phase != "aborted" || c.Decision != "Decision: "+abortedR.Decision || c.Events != len(abortedR.Events) {
		t.Errorf("card of %s: %+v; want aborted with its decision %q and %d events", aborted.ID, c, abortedR.Decision, len(abortedR.Events))
	}
	if failed := evalString(ctx, t, `Array.from(document.querySelectorAll("#past-stage-timeline .step.failed .label")).map(e => e.textContent).join()`); failed != "canary 40%,aborted" {
		t.Errorf("the aborted canary's timeline marks %q failed, want its canary step and its end", failed)
	}
	// The live card on the Overview is as it was.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[data-tab="overview"]`)), chromedp.WaitVisible(chromedp.CSS("#rollout-phase"))); err != nil {
		t.Fatal(err)
	}
	if phase := evalString(ctx, t, `document.getElementById("rollout-phase").textContent`); phase != "progressing" {
		t.Errorf("the live card shows %q after the History tab, want progressing", phase)
	}
	if bad := failures(); len(bad) > 0 {
		t.Errorf("failed requests or console errors:\n  %s", strings.Join(bad, "\n  "))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestHistory_ViewerABReport: a viewer (the API lets viewers read the
// history) sees the list and opens an ended A/B test's card, its report
// drawn as on the live card; the card has no actions.
func TestHistory_ViewerABReport(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	failures := listenFailures(t, ctx)
	same := fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 5, P99MS: 15}, OutputTokens: fakellm.TokenCount{Mean: 40, Spread: 10}}
	refuses := same
	refuses.RefusalRate = 0.4
	g := MustGateway(t, MustBackend(t, fakellm.Config{Default: refuses}), MustBackend(t, fakellm.Config{Seed: 7, Default: same}))
	startLoad(t, g.URL(), 4)
	bg := context.Background()
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyABTest, ABSamples: 150, ABFeedbackWait: new(sluice.Duration(time.Second)),
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	ab, err := g.Rollouts.Start(bg, "alice-admin", "does the new fine-tune refuse less?", spec)
	if err != nil {
		t.Fatalf("start the A/B test: %v", err)
	}
	waitFor(t, "the A/B test to complete", 60*time.Second, func() bool { return g.Control.Registry().Rollouts["chat"].Phase == sluice.PhaseCompleted })
	if _, err := g.Rollouts.Conclude(bg, "olga-operator", "chat", "baseline", "no change that matters"); err != nil {
		t.Fatalf("conclude: %v", err)
	}
	live := startLive(t, g, "v1.1.0", "canary after the A/B test")
	rep := rollout.ABReportOf(*g.Control.Registry().Rollouts["chat"])
	if rep != nil {
		t.Fatalf("the live canary has an A/B report")
	}
	list, err := g.Store.RolloutHistory(bg, sluice.RolloutQuery{Model: "chat", ID: ab.ID, Limit: 1})
	if err != nil || len(list) != 1 || rollout.ABReportOf(list[0]) == nil {
		t.Fatalf("the stored A/B test: %v %v", list, err)
	}
	rep = rollout.ABReportOf(list[0])

	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="history"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history-table tr[data-id="`+ab.ID+`"]`)),
	); err != nil {
		t.Fatalf("viewer's history tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	rows := historyRows(ctx, t)
	if len(rows) != 2 || rows[0].ID != live.ID || rows[1].ID != ab.ID || rows[1].Cells[2] != "abtest" || rows[1].Cells[4] != string(list[0].Phase) {
		t.Errorf("the viewer's history: %v; want %s then the A/B test %s (%s)", rows, live.ID, ab.ID, list[0].Phase)
	}
	// The page opened on #history (a reload, a bookmark) shows the tab and
	// its list, once; the row's id is a button (Tab and Enter reach it).
	if err := chromedp.Do(ctx,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history-table tr[data-id="`+ab.ID+`"]`)),
		chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+ab.ID+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#past-ab-report")),
	); err != nil {
		t.Fatalf("open %s: %v%s", ab.ID, err, pageText(ctx))
	}
	winner := evalString(ctx, t, `document.getElementById("past-ab-winner").textContent`)
	summary := evalString(ctx, t, `document.getElementById("past-ab-summary").textContent`)
	if winner != rep.Winner || summary != rep.Summary {
		t.Errorf("the card shows winner %q, summary %q; the report says %q, %q", winner, summary, rep.Winner, rep.Summary)
	}
	if n := evalString(ctx, t, `String(document.querySelectorAll("#past-ab-table tbody tr").length)`); n == "0" {
		t.Errorf("the A/B report has no rows")
	}
	if acts := evalString(ctx, t, `String(document.querySelectorAll("#history-past button[data-action]").length)`); acts != "0" {
		t.Errorf("the ended rollout's card offers %s actions", acts)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#history-back")), chromedp.WaitVisible(chromedp.CSS("#history-table"))); err != nil {
		t.Fatal(err)
	}
	if rows := historyRows(ctx, t); len(rows) != 2 {
		t.Errorf("after a reload on #history the list has %d rows, want the 2 rollouts once: %v", len(rows), rows)
	}
	if bad := failures(); len(bad) > 0 {
		t.Errorf("failed requests or console errors:\n  %s", strings.Join(bad, "\n  "))
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// shoot saves a screenshot of the page as name in screenshotDir.
func shoot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(screenshotDir(t), name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}
