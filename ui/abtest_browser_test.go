package ui_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// abPage is what the A/B test's browser test reads of the page.
type abPage struct {
	Phase    string  `json:"phase"`
	Winner   string  `json:"winner"`
	Summary  string  `json:"summary"`
	Rows     []abRow `json:"rows"`
	Conclude bool    `json:"conclude"` // the conclude buttons are on screen
	Flash    string  `json:"flash"`
	// Interval is the interval column's header, and Note the line under
	// the table that says what the intervals are.
	Interval string `json:"interval"`
	Note     string `json:"note"`
}

type abRow struct {
	Cells    []string `json:"cells"`
	Category string   `json:"category"`
}

const readABPage = `(() => {
  const out = {phase: "", winner: "", summary: "", rows: [], conclude: false, flash: ""};
  const ph = document.getElementById('rollout-phase'); out.phase = ph ? ph.textContent : "";
  const w = document.getElementById('ab-winner'); out.winner = w ? w.textContent : "";
  const s = document.getElementById('ab-summary'); out.summary = s ? s.textContent : "";
  document.querySelectorAll('#ab-table tbody tr[data-metric]').forEach(tr => out.rows.push({cells: Array.from(tr.cells).map(td => td.textContent), category: tr.dataset.category}));
  const c = document.getElementById('conclude-actions');
  out.conclude = !!c && !c.hidden && c.offsetParent !== null && !!document.querySelector('#conclude-actions button[data-pick="candidate"]:not([disabled])');
  const f = document.getElementById('flash'); out.flash = f && !f.hidden ? f.textContent : "";
  const th = document.querySelectorAll('#ab-table thead th')[5]; out.interval = th ? th.textContent : "";
  const n = document.getElementById('ab-intervals'); out.note = n ? n.textContent : "";
  return out;
})()`

// hideFlash hides the page's message, so that the next one can be waited for.
func hideFlash(ctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('flash').hidden = true`)); err != nil {
		t.Fatalf("hide the message: %v", err)
	}
}

func waitAB(ctx context.Context, t *testing.T, what string, cond func(abPage) bool) abPage {
	t.Helper()
	var st abPage
	waitFor(t, what, 60*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[abPage](readABPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return cond(st)
	})
	return st
}

// TestDashboard_ABTestReportAndConclude walks an experimenter's A/B test
// on the dashboard, over a real gateway with live traffic: before, the
// page showed a completed test's timeline and nothing of its report, and
// its Promote was refused naming the CLI. Now the report is drawn (winner,
// summary, and a row per metric, a quality row per score source, with
// interval, p, Holm p, margin and equivalence); a viewer sees it and no
// conclude buttons; an operator's "Ship candidate" asks for a reason,
// shows the API's refusal when the routing changed after the test, and
// then ships the candidate: the rollout shows promoted, audited with the
// reason.
func TestDashboard_ABTestReportAndConclude(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	same := fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 5, P99MS: 15}, TTFT: fakellm.Distribution{MedianMS: 2, P99MS: 6},
		OutputTokens: fakellm.TokenCount{Mean: 40, Spread: 10}}
	refuses := same
	refuses.RefusalRate = 0.4
	stable := MustBackend(t, fakellm.Config{Default: refuses})
	cand := MustBackend(t, fakellm.Config{Seed: 7, Default: same})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 4)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyABTest, ABSamples: 150,
		ABFeedbackWait: new(sluice.Duration(8 * time.Second)),
		Analysis:       sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "does the new fine-tune refuse less?", spec); err != nil {
		t.Fatalf("start the A/B test: %v", err)
	}
	base := g.AdminURL()

	// A viewer watches the test run and complete: the report, no buttons.
	if err := chromedp.Do(ctx, signInAs(base, g.viewer)); err != nil {
		t.Fatalf("viewer sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	// At its sample the test waits for users' feedback, and the card's
	// Next line says so and until when.
	waitPageFor(ctx, t, "the Next line saying the test waits for users' feedback", 40*time.Second, func(st waitingPage) bool {
		return strings.Contains(st.Next, "waiting for users' feedback until") && strings.Contains(st.Next, "left of ab_feedback_wait 8s")
	})
	st := waitAB(ctx, t, "the A/B test's report on the viewer's page", func(p abPage) bool { return p.Phase == "completed" && p.Winner != "" })
	if st.Conclude {
		t.Errorf("a viewer is offered the conclude buttons")
	}
	r := g.Control.Registry().Rollouts["chat"]
	rep := rollout.ABReportOf(*r)
	if rep == nil {
		t.Fatalf("the completed test has no report: %s", r.Decision)
	}
	if st.Winner != rep.Winner || st.Summary != rep.Summary {
		t.Errorf("page shows winner %q, summary %q; the report says %q, %q", st.Winner, st.Summary, rep.Winner, rep.Summary)
	}
	overall := 0
	for _, row := range st.Rows {
		if row.Category == "" {
			overall++
		}
	}
	if overall != len(rep.Metrics) {
		t.Errorf("the page has %d all-traffic rows, the report %d: %v", overall, len(rep.Metrics), st.Rows)
	}
	var refusal, heuristic []string
	for _, row := range st.Rows {
		if row.Category != "" {
			continue
		}
		switch row.Cells[0] {
		case "refusal_rate":
			refusal = row.Cells
		case "quality (heuristic)":
			heuristic = row.Cells
		}
	}
	// Metric, category, baseline, candidate, difference, interval, margin,
	// equivalence, p, Holm p, winner, n.
	if len(refusal) != 12 || !strings.HasSuffix(refusal[2], "%") || !strings.HasSuffix(refusal[4], " pp") ||
		!strings.HasPrefix(refusal[5], "[") || !strings.HasPrefix(refusal[6], "±") || refusal[10] != "candidate" {
		t.Errorf("refusal_rate row %q: want rates in %%, the difference in pp with its interval and margin, and the candidate winning", refusal)
	}
	if heuristic == nil {
		t.Errorf("no quality row of the heuristic's scores: %v", st.Rows)
	}
	// The interval shown is the simultaneous one, at the row's share of
	// alpha, and the page says so: a row's own 95% interval beside a
	// Holm p-value misled a reader of eight rows.
	if st.Interval != "95% simultaneous interval" || !strings.Contains(st.Note, "The intervals are simultaneous: all rows together at 95%") {
		t.Errorf("interval header %q, note %q: want the simultaneous intervals, named", st.Interval, st.Note)
	}
	if rr := rowOf(rep, "refusal_rate"); len(refusal) > 5 {
		lo, hi, ok := parsePP(refusal[5])
		if !ok || math.Abs(lo-100*rr.AdjustedLower) > 0.006 || math.Abs(hi-100*rr.AdjustedUpper) > 0.006 || rr.AdjustedLevel <= 0.95 {
			t.Errorf("refusal_rate interval %q; the report's simultaneous interval is [%v, %v] at %v (its own [%v, %v])",
				refusal[5], rr.AdjustedLower, rr.AdjustedUpper, rr.AdjustedLevel, rr.Lower, rr.Upper)
		}
	}
	// Each row says what it rests on, as sluice rollout status does: the
	// refusal rate's answers, the heuristic's scores.
	for _, m := range rep.Metrics {
		var cells []string
		switch m.Name() {
		case "refusal_rate":
			cells = refusal
		case "quality (heuristic)":
			cells = heuristic
		default:
			continue
		}
		if want := fmt.Sprintf("%d / %d", m.BaselineN, m.CandidateN); m.BaselineN == 0 || len(cells) < 12 || cells[11] != want {
			t.Errorf("%s row %q: want n %q, the report's", m.Name(), cells, want)
		}
	}

	// An operator: the same report, and the conclude buttons.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		signInAs(base, g.operator),
	); err != nil {
		t.Fatalf("operator sign-in: %v%s", err, pageText(ctx))
	}
	st = waitAB(ctx, t, "the report and the conclude buttons on the operator's page", func(p abPage) bool { return p.Winner == rep.Winner && p.Conclude })
	ship := chromedp.Click(chromedp.CSS(`#conclude-actions button[data-pick="candidate"]`))
	// Without a reason: asked for one, nothing sent.
	if err := chromedp.Do(ctx, ship); err != nil {
		t.Fatalf("click Ship candidate: %v", err)
	}
	st = waitAB(ctx, t, "the request for a reason", func(p abPage) bool { return p.Flash != "" })
	if !strings.Contains(st.Flash, "reason") {
		t.Errorf("Ship candidate without a reason shows %q", st.Flash)
	}
	if r := g.Control.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseCompleted {
		t.Fatalf("Ship candidate without a reason changed the rollout: %s", r.Phase)
	}

	// The routing changed after the test ended: the API refuses (409),
	// and the page says why.
	if _, err := g.Control.Do(context.Background(), "alice-admin", "a manual split", func(e *sluice.Edit) error {
		return e.SetSplit("chat", []sluice.Weight{{Version: "v1.0.0", Percent: 90}, {Version: "v1.1.0", Percent: 10}})
	}); err != nil {
		t.Fatal(err)
	}
	hideFlash(ctx, t)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#rollout-reason"), "refuses far less, latency equivalent"),
		ship,
	); err != nil {
		t.Fatalf("click Ship candidate: %v", err)
	}
	st = waitAB(ctx, t, "the refusal", func(p abPage) bool { return p.Flash != "" })
	if !strings.HasPrefix(st.Flash, "Refused: ") || !strings.Contains(st.Flash, "routing of chat changed") {
		t.Errorf("Ship candidate after the routing changed shows %q, want the API's refusal", st.Flash)
	}
	if r := g.Control.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseCompleted {
		t.Fatalf("a refused Ship candidate changed the rollout: %s", r.Phase)
	}

	// The routing back as the test left it: the same click ships it.
	if _, err := g.Control.Do(context.Background(), "alice-admin", "undo the manual split", func(e *sluice.Edit) error {
		return e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"})
	}); err != nil {
		t.Fatal(err)
	}
	hideFlash(ctx, t)
	if err := chromedp.Do(ctx, ship); err != nil {
		t.Fatalf("click Ship candidate: %v", err)
	}
	// The page's poll can draw the promotion before the click's answer
	// sets the flash: wait for both.
	st = waitAB(ctx, t, "the page to show the candidate shipped, and the click's answer", func(p abPage) bool { return p.Phase == "promoted" && p.Flash != "" })
	if st.Conclude {
		t.Errorf("the conclude buttons stay after the test was concluded")
	}
	if st.Winner != rep.Winner {
		t.Errorf("after shipping the page shows winner %q, want the report still drawn (%q)", st.Winner, rep.Winner)
	}
	if !strings.Contains(st.Flash, "concluded for the candidate") {
		t.Errorf("flash after Ship candidate: %q", st.Flash)
	}
	reg := g.Control.Registry()
	if reg.Models["chat"].Policy.String() != "specific v1.1.0" || reg.Version("chat", "v1.1.0").Stage != sluice.StageProduction {
		t.Errorf("after Ship candidate: policy %s, stage %s", reg.Models["chat"].Policy, reg.Version("chat", "v1.1.0").Stage)
	}
	entries, err := g.Store.Audit(context.Background(), sluice.AuditQuery{Action: "rollout.conclude"})
	if err != nil || len(entries) != 1 || entries[0].Actor != "olga-operator" || !strings.Contains(entries[0].Reason, "refuses far less") {
		t.Errorf("audit of the conclusion: %+v %v", entries, err)
	}
	if png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS("#ab-report"))); err == nil {
		p := filepath.Join(screenshotDir(t), "dashboard-abreport.png")
		if os.WriteFile(p, png, 0o644) == nil {
			t.Logf("screenshot of the A/B report: %s", p)
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// TestDashboard_ABTestKeepBaselineEarly: an operator ends an A/B test
// still running with "Keep baseline": the test stops early (aborted, the
// candidate's traffic back on the baseline), and the page draws the report
// of the sample so far with its warning that it was stopped early, and
// offers the buttons no more.
func TestDashboard_ABTestKeepBaselineEarly(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 9})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 2)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyABTest, ABSamples: 1000000,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "an A/B test that will not finish", spec); err != nil {
		t.Fatalf("start the A/B test: %v", err)
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.operator)); err != nil {
		t.Fatalf("operator sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	st := waitAB(ctx, t, "the running test with its conclude buttons", func(p abPage) bool { return p.Phase == "progressing" && p.Conclude })
	if st.Winner != "" {
		t.Errorf("a running test shows a report: winner %q", st.Winner)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#rollout-reason"), "not worth the wait"),
		chromedp.Click(chromedp.CSS(`#conclude-actions button[data-pick="baseline"]`)),
	); err != nil {
		t.Fatalf("click Keep baseline: %v", err)
	}
	st = waitAB(ctx, t, "the test stopped early", func(p abPage) bool { return p.Phase == "aborted" && p.Winner != "" })
	if st.Conclude {
		t.Errorf("the conclude buttons stay after the test was concluded")
	}
	early, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('ab-early') || {}).textContent || ""`))
	if err != nil || !strings.Contains(early, "Stopped early, before its planned 1000000 requests per arm") {
		t.Errorf("the stopped-early warning reads %q (%v)", early, err)
	}
	reg := g.Control.Registry()
	if p := reg.Models["chat"].Policy.String(); p != "specific v1.0.0" {
		t.Errorf("after Keep baseline the policy is %s", p)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// rowOf is the report's all-traffic row of metric name.
func rowOf(rep *analysis.Report, name string) analysis.ABMetric {
	for _, m := range rep.Metrics {
		if m.Name() == name {
			return m
		}
	}
	return analysis.ABMetric{}
}

// parsePP reads an interval of rates as the page writes it,
// "[+1.23 pp, +4.56 pp]", in percentage points.
func parsePP(cell string) (lo, hi float64, ok bool) {
	a, b, found := strings.Cut(strings.Trim(cell, "[]"), ", ")
	if !found {
		return 0, 0, false
	}
	num := func(s string) (float64, error) {
		s = strings.ReplaceAll(strings.TrimSuffix(s, " pp"), "−", "-")
		return strconv.ParseFloat(s, 64)
	}
	lo, err1 := num(a)
	hi, err2 := num(b)
	return lo, hi, err1 == nil && err2 == nil
}
