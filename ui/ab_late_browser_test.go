package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_ABLateRatings: users rated a completed A/B test's answers
// after its report was drawn, and the rollout view showed the report alone,
// as if no rating had come since. It now shows, below the report and
// labelled as not in it, each arm's late ratings (count, thumbs up and
// down, mean) and all ratings now, with no verdict drawn on them (late
// raters are not the test's sample, and a verdict redrawn as they arrive
// is a peek); the report's own rows are as drawn. The History tab's card
// of the ended test shows them the same way.
func TestDashboard_ABLateRatings(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	rep := analysis.Report{Alpha: 0.05, BaselineN: 300, CandidateN: 300, Winner: "no difference", Summary: "no significant difference at alpha 0.05 after 300 and 300 requests",
		Metrics: []analysis.ABMetric{
			{Metric: "quality", Source: "feedback", Baseline: 1, Candidate: 1, BaselineN: 3, CandidateN: 3, Lower: -0.25, Upper: 0.25, Margin: 0.05, Equivalence: "undecided", Winner: "no difference", PValue: 1, AdjustedP: 1},
		}}
	ro, read, claimIn := mustLateAB(t, g, rep)
	claim := func(version string, at time.Time, score float64) { t.Helper(); claimIn(version, "", at, score) }
	for range 3 { // the report's
		claim("v1.0.0", read.Add(-time.Minute), 1)
		claim("v1.1.0", read.Add(-time.Minute), 1)
	}
	morning := read.Add(14 * time.Hour)
	claim("v1.0.0", morning, 1)
	for range 4 {
		claim("v1.1.0", morning, 0)
	}

	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS("#ab-table tbody tr")),
		chromedp.WaitVisible(chromedp.CSS("#ab-late-table tbody tr")),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	type page struct {
		Label  string     `json:"label"`
		Head   string     `json:"head"`
		Rows   [][]string `json:"rows"`
		Note   string     `json:"note"`
		Text   string     `json:"text"`
		Report []string   `json:"report"`
		Below  bool       `json:"below"`
		// Interval is the report's interval column's header, and
		// Intervals the line that says what its intervals are.
		Interval  string `json:"interval"`
		Intervals string `json:"intervals"`
	}
	p, err := chromedp.Run(ctx, chromedp.Evaluate[page](`(() => {
	  const t = (id) => { const e = document.getElementById(id); return e ? e.textContent : ""; };
	  const late = document.getElementById('ab-late'), report = document.getElementById('ab-report');
	  return {
	    label: t('ab-late-label'), head: late ? late.querySelector('.rollout-head').textContent : "",
	    rows: Array.from(document.querySelectorAll('#ab-late-table tbody tr')).map(tr => Array.from(tr.cells).map(td => td.textContent)),
	    note: t('ab-late-untested'), text: late ? late.textContent : "",
	    report: Array.from(document.querySelectorAll('#ab-table tbody tr')[0].cells).map(td => td.textContent),
	    below: !!late && !!report && !report.contains(late) && !!(report.compareDocumentPosition(late) & Node.DOCUMENT_POSITION_FOLLOWING),
	    interval: document.querySelectorAll('#ab-table thead th')[5].textContent, intervals: t('ab-intervals'),
	  };
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	// The report was stored before its rows had simultaneous intervals:
	// the table shows each row's own, under a header and a line that say
	// so, never the absent simultaneous one as [0, 0].
	if p.Interval != "95% interval" || !strings.HasPrefix(p.Intervals, "The intervals are each row's own 95% (a report stored before intervals were adjusted)") ||
		len(p.Report) < 6 || p.Report[5] != "[-0.250, +0.250]" {
		t.Errorf("an older report's intervals: header %q, line %q, cell %q; want each row's own, [-0.250, +0.250], named so", p.Interval, p.Intervals, p.Report)
	}
	if p.Label != "not in the report" || !strings.Contains(p.Head, "after the report was drawn") || !p.Below {
		t.Errorf("late ratings labelled %q (%q), below the report and apart from it %v: want them plainly not in it", p.Label, p.Head, p.Below)
	}
	want := [][]string{
		{"baseline", "v1.0.0", "1", "1", "0", "1.000", "4", "1.000"},
		{"candidate", "v1.1.0", "4", "0", "4", "0.000", "7", "0.429"},
	}
	if fmt.Sprint(p.Rows) != fmt.Sprint(want) {
		t.Errorf("late ratings rows %q, want %q", p.Rows, want)
	}
	if !strings.HasPrefix(p.Note, "Not tested: ") || strings.Contains(p.Text, "would read") || strings.Contains(p.Text, "wins") {
		t.Errorf("the late ratings box %q (note %q): want their counts and means with no verdict drawn on them", p.Text, p.Note)
	}
	// The report's own row is as drawn: 3 ratings a side.
	if len(p.Report) < 12 || p.Report[11] != "3 / 3" {
		t.Errorf("the report's quality (feedback) row %q: want it as drawn, on 3 / 3", p.Report)
	}

	// The History tab's card of the ended test (GET ?id=), read-only.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[data-tab="history"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history-table tr[data-id="`+ro.ID+`"] button`)),
		chromedp.Click(chromedp.CSS(`#history-table tr[data-id="`+ro.ID+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#past-ab-late-table tbody tr")),
	); err != nil {
		t.Fatalf("open %s in the History tab: %v%s\npage errors: %v", ro.ID, err, pageText(ctx), jsErrors())
	}
	past, err := chromedp.Run(ctx, chromedp.Evaluate[page](`(() => {
	  const t = (id) => { const e = document.getElementById(id); return e ? e.textContent : ""; };
	  const late = document.getElementById('past-ab-late'), report = document.getElementById('past-ab-report');
	  return {
	    label: t('past-ab-late-label'), head: late ? late.querySelector('.rollout-head').textContent : "",
	    rows: Array.from(document.querySelectorAll('#past-ab-late-table tbody tr')).map(tr => Array.from(tr.cells).map(td => td.textContent)),
	    note: t('past-ab-late-untested'), text: late ? late.textContent : "",
	    report: Array.from(document.querySelectorAll('#past-ab-table tbody tr')[0].cells).map(td => td.textContent),
	    below: !!late && !!report && !report.contains(late) && !!(report.compareDocumentPosition(late) & Node.DOCUMENT_POSITION_FOLLOWING),
	  };
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if past.Label != "not in the report" || !past.Below || fmt.Sprint(past.Rows) != fmt.Sprint(want) || !strings.HasPrefix(past.Note, "Not tested: ") ||
		strings.Contains(past.Text, "would read") || len(past.Report) < 12 || past.Report[11] != "3 / 3" {
		t.Errorf("the History tab's card: label %q, below the report %v, rows %q, note %q, report row %q; want as the live card's (rows %q)",
			past.Label, past.Below, past.Rows, past.Note, past.Report, want)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// mustLateAB stores a completed A/B test of chat (v1.0.0 against v1.1.0)
// whose report rep was drawn 20 hours ago (its span set here), and returns
// the rollout, when the report read its ratings, and claim, which stores a
// rating of one of the sample's split answers by version, in category, at.
func mustLateAB(t *testing.T, g *gateway, rep analysis.Report) (ro sluice.Rollout, read time.Time, claim func(version, category string, at time.Time, score float64)) {
	t.Helper()
	live := time.Now().UTC().Add(-20 * time.Hour).Truncate(time.Second)
	read = live.Add(35 * time.Minute)
	rep.SampleFrom, rep.SampleUntil, rep.ScoresRead = live, live.Add(30*time.Minute), read
	rj, _ := json.Marshal(rep)
	ro = sluice.Rollout{
		ID: "chat-1", Phase: sluice.PhaseCompleted, StartedAt: live, StageStartedAt: live, LiveAt: live, EndedAt: read,
		Spec:   sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyABTest, CanaryPercent: 50, ABSamples: 300},
		Events: []sluice.RolloutEvent{{At: read, Kind: "ab_report", Message: rep.Summary, Data: rj}},
	}
	ctx := context.Background()
	if _, err := g.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.PutRollout(ro) }); err != nil {
		t.Fatal(err)
	}
	n := 0
	claim = func(version, category string, at time.Time, score float64) {
		t.Helper()
		n++
		if ok, err := g.Store.ClaimFeedback(ctx, sluice.Feedback{RequestID: fmt.Sprintf("req_late_%d", n), Model: "chat", Version: version, Category: category,
			Route: "split", AnsweredAt: live.Add(time.Minute), Score: score, At: at}); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
	}
	return ro, read, claim
}
