package ui_test

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
)

// TestMetricPrecision: the verdict and A/B tables showed a quality score's
// numbers at varying precision: values with 2 decimals, effects and
// thresholds with 3 significant digits ("0.81", "+0.0877", "-0.100"), so a
// column put 0.1 next to 0.123456 and the effect did not read as the
// difference of the values shown. Each metric's numbers now take its
// unit's decimals throughout: 3 for a quality score, 1 for token counts.
func TestMetricPrecision(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	at := time.Now().UTC().Add(-time.Minute)
	verdict := sluice.Verdict{At: at, Outcome: sluice.OutcomeFail, Reason: "quality dropped on code", BaselineN: 200, CandidateN: 200, Metrics: []sluice.MetricVerdict{
		{Metric: "quality", Source: "feedback", Outcome: sluice.OutcomePass, Baseline: 0.81234, Candidate: 0.9, Effect: 0.08766, Threshold: -0.1, Unit: "absolute", PValue: 0.01, BaselineN: 200, CandidateN: 200},
		{Metric: "quality", Source: "heuristic", Category: "code", Outcome: sluice.OutcomeFail, Baseline: 0.5, Candidate: 0.123456, Effect: -0.376544, Threshold: -0.05, Unit: "absolute", PValue: 0.001, BaselineN: 50, CandidateN: 50},
		{Metric: "output_tokens", Outcome: sluice.OutcomePass, Baseline: 60.25, Candidate: 75, Effect: 0.2448, Threshold: 3, Unit: "relative", PValue: 0.2, BaselineN: 200, CandidateN: 200},
	}}
	vj, _ := json.Marshal(verdict)
	rep := analysis.Report{Alpha: 0.05, BaselineN: 200, CandidateN: 200, Winner: "candidate", Summary: "the candidate wins on quality", Metrics: []analysis.ABMetric{
		{Metric: "quality", Source: "feedback", Baseline: 0.8, Candidate: 0.923456, Diff: 0.123456, Lower: 0.1, Upper: 0.2, Margin: 0.05, Equivalence: "beyond", Winner: "candidate", PValue: 0.001, AdjustedP: 0.002},
		{Metric: "output_tokens", Baseline: 60, Candidate: 75.25, Diff: 15.25, Lower: 10, Upper: 20.5, Margin: 6, Equivalence: "beyond", Winner: "no difference", PValue: 0.3, AdjustedP: 0.6},
	}}
	rj, _ := json.Marshal(rep)
	ro := sluice.Rollout{
		ID: "chat-1", Phase: sluice.PhasePromoted, Percent: 100, StartedAt: at, StageStartedAt: at, EndedAt: at,
		Spec:        sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyABTest, CanaryPercent: 50},
		Decision:    "concluded for the candidate by olga-operator",
		LastVerdict: vj,
		Events:      []sluice.RolloutEvent{{At: at, Kind: "ab_report", Message: "A/B report: candidate", Data: rj}},
	}
	if _, err := g.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.PutRollout(ro) }); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		signInAs(g.AdminURL(), g.viewer),
		chromedp.WaitVisible(chromedp.CSS("#ab-table tbody tr")),
		chromedp.WaitVisible(chromedp.CSS("#verdict-table tbody tr")),
	); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	cells, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]string](`(() => {
	  const out = {};
	  for (const tr of document.querySelectorAll("#verdict-table tbody tr")) {
	    const td = Array.from(tr.children).map(x => x.textContent);
	    out["verdict " + td[0] + " " + td[1]] = td.slice(2, 6);
	  }
	  for (const tr of document.querySelectorAll("#ab-table tbody tr")) {
	    const td = Array.from(tr.children).map(x => x.textContent);
	    const iv = td[5].replace(/^\[|\]$/g, "").split(", ");
	    out["ab " + td[0]] = [td[2], td[3], td[4], iv[0], iv[1], td[6]];
	  }
	  return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	score := regexp.MustCompile(`^[+±-]?\d+\.\d{3}$`)
	tokens := regexp.MustCompile(`^[+±-]?\d+\.\d( tokens)?$`)
	for _, c := range []struct {
		row  string
		cols []int // the cells checked (the others are percentages)
		re   *regexp.Regexp
	}{
		{"verdict quality (feedback, guard) all", []int{0, 1, 2, 3}, score},
		{"verdict quality (heuristic, guard) code", []int{0, 1, 2, 3}, score},
		{"verdict output_tokens all", []int{0, 1}, tokens},
		{"ab quality (feedback)", []int{0, 1, 2, 3, 4, 5}, score},
		{"ab output_tokens", []int{0, 1, 2, 3, 4, 5}, tokens},
	} {
		got, ok := cells[c.row]
		if !ok {
			t.Errorf("no row %q in the tables: %v", c.row, cells)
			continue
		}
		for _, i := range c.cols {
			if i >= len(got) || !c.re.MatchString(got[i]) {
				t.Errorf("%s: cells %q; want each of %v as %s", c.row, got, c.cols, c.re)
				break
			}
		}
	}
	if got := cells["verdict quality (feedback, guard) all"]; len(got) == 4 && (got[0] != "0.812" || got[2] != "+0.088" || got[3] != "-0.100") {
		t.Errorf("quality (feedback) cells %q, want 0.812, 0.900, +0.088, -0.100", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
