package ui_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_ABLateRatingsByCategory: late ratings were shown for all
// traffic only, under a report whose rows compare each request category.
// The rollout view now adds a table per category with late ratings (and a
// line for the categories without), so a next-morning wave of
// thumbs-down in search is seen as search's. The figures are those of
// rollout's TestLateFeedback_ByCategory: 10 thumbs up per arm and category
// in the report; late, the baseline 2 up in payments, the candidate 8 down
// in search; billing has ratings, none late.
func TestDashboard_ABLateRatingsByCategory(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	rep := analysis.Report{Alpha: 0.05, BaselineN: 300, CandidateN: 300, Winner: "no difference", Summary: "no significant difference",
		Metrics: []analysis.ABMetric{
			{Metric: "quality", Source: "feedback", Baseline: 1, Candidate: 1, BaselineN: 21, CandidateN: 21, Winner: "no difference", PValue: 1, AdjustedP: 1},
		}}
	_, read, claim := mustLateAB(t, g, rep)
	for range 10 { // the report's
		for _, v := range []string{"v1.0.0", "v1.1.0"} {
			claim(v, "payments", read.Add(-time.Minute), 1)
			claim(v, "search", read.Add(-time.Minute), 1)
		}
	}
	claim("v1.0.0", "billing", read.Add(-time.Minute), 1)
	claim("v1.1.0", "billing", read.Add(-time.Minute), 1)
	morning := read.Add(14 * time.Hour)
	claim("v1.0.0", "payments", morning, 1)
	claim("v1.0.0", "payments", morning, 1)
	for range 8 {
		claim("v1.1.0", "search", morning, 0)
	}

	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS("#ab-late-cat-table tbody tr")),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	type page struct {
		All    [][]string `json:"all"`
		Cats   [][]string `json:"cats"`
		Hidden string     `json:"hidden"`
	}
	p, err := chromedp.Run(ctx, chromedp.Evaluate[page](`(() => {
	  const rows = (sel) => Array.from(document.querySelectorAll(sel + ' tbody tr')).map(tr => Array.from(tr.cells).map(td => td.textContent));
	  const hid = document.getElementById('ab-late-cat-hidden');
	  return {all: rows('#ab-late-table'), cats: rows('#ab-late-cat-table'), hidden: hid ? hid.textContent : ""};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	// By hand: all traffic, baseline 2 late of 23 (all up), candidate 8
	// late (down) of 29, mean 21/29 = 0.724; search's candidate 8 late of
	// 18, mean 10/18 = 0.556.
	wantAll := [][]string{
		{"baseline", "v1.0.0", "2", "2", "0", "1.000", "23", "1.000"},
		{"candidate", "v1.1.0", "8", "0", "8", "0.000", "29", "0.724"},
	}
	wantCats := [][]string{
		{"payments", "baseline", "v1.0.0", "2", "2", "0", "1.000", "12", "1.000"},
		{"payments", "candidate", "v1.1.0", "0", "0", "0", "–", "10", "1.000"},
		{"search", "baseline", "v1.0.0", "0", "0", "0", "–", "10", "1.000"},
		{"search", "candidate", "v1.1.0", "8", "0", "8", "0.000", "18", "0.556"},
	}
	if fmt.Sprint(p.All) != fmt.Sprint(wantAll) || fmt.Sprint(p.Cats) != fmt.Sprint(wantCats) || p.Hidden != "1 category without late ratings not shown" {
		t.Errorf("late ratings: all %q, by category %q, hidden %q; want %q, %q and billing's counted as not shown", p.All, p.Cats, p.Hidden, wantAll, wantCats)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
