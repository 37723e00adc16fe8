package ui_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
)

// TestPValueNotation: the verdict's and the A/B report's p columns put
// "0.0000071" beside "3.0e-8" (toPrecision switches to exponents below
// 1e-6) and "0.034" beside "0.50". A p column now takes one notation:
// three decimals, and "<0.001" below.
func TestPValueNotation(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	at := time.Now().UTC().Add(-time.Minute)
	verdict := sluice.Verdict{At: at, Outcome: sluice.OutcomeFail, Reason: "latency rose", BaselineN: 200, CandidateN: 200, Metrics: []sluice.MetricVerdict{
		{Metric: "error_rate", Outcome: sluice.OutcomePass, Baseline: 0.01, Candidate: 0.011, Effect: 0.001, Threshold: 0.02, Unit: "absolute", PValue: 0.5, BaselineN: 200, CandidateN: 200},
		{Metric: "latency_p99", Outcome: sluice.OutcomeFail, Baseline: 100, Candidate: 180, Effect: 0.8, Threshold: 0.2, Unit: "relative", PValue: 0.0000071, BaselineN: 200, CandidateN: 200},
		{Metric: "output_tokens", Outcome: sluice.OutcomeFail, Baseline: 60, Candidate: 90, Effect: 0.5, Threshold: 0.3, Unit: "relative", PValue: 3e-8, BaselineN: 200, CandidateN: 200},
		{Metric: "ttft", Outcome: sluice.OutcomePass, Baseline: 50, Candidate: 52, Effect: 0.04, Threshold: 0.2, Unit: "relative", PValue: 0.034, BaselineN: 200, CandidateN: 200},
	}}
	vj, _ := json.Marshal(verdict)
	rep := analysis.Report{Alpha: 0.05, BaselineN: 200, CandidateN: 200, Winner: "baseline", Summary: "the baseline wins on latency", Metrics: []analysis.ABMetric{
		{Metric: "latency_p99", Baseline: 100, Candidate: 180, Diff: 80, Lower: 60, Upper: 100, Margin: 20, Equivalence: "beyond", Winner: "baseline", PValue: 3e-8, AdjustedP: 0.0000071},
		{Metric: "error_rate", Baseline: 0.01, Candidate: 0.011, Diff: 0.001, Lower: -0.01, Upper: 0.012, Margin: 0.02, Equivalence: "within", Winner: "no difference", PValue: 0.5, AdjustedP: 1},
		{Metric: "ttft", Baseline: 50, Candidate: 52, Diff: 2, Lower: 0.5, Upper: 3.5, Margin: 10, Equivalence: "within", Winner: "no difference", PValue: 0.017, AdjustedP: 0.034},
	}}
	rj, _ := json.Marshal(rep)
	ro := sluice.Rollout{
		ID: "chat-1", Phase: sluice.PhaseCompleted, Percent: 0, StartedAt: at, StageStartedAt: at, EndedAt: at,
		Spec:        sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyABTest, CanaryPercent: 50},
		LastVerdict: vj,
		Events:      []sluice.RolloutEvent{{At: at, Kind: "ab_report", Message: "A/B report: baseline", Data: rj}},
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
	cols, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]string](`(() => {
	  const col = (table, i) => Array.from(document.querySelectorAll(table + " tbody tr")).map(tr => tr.children[i].textContent);
	  return {"verdict p": col("#verdict-table", 6), "ab p": col("#ab-table", 8), "ab p (Holm)": col("#ab-table", 9)};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"verdict p":   {"0.500", "<0.001", "<0.001", "0.034"},
		"ab p":        {"<0.001", "0.500", "0.017"},
		"ab p (Holm)": {"<0.001", "1.000", "0.034"},
	} {
		if got := cols[name]; !slices.Equal(got, want) {
			t.Errorf("%s column %q, want %q", name, got, want)
		}
	}
	one := regexp.MustCompile(`^(<0\.001|[01]\.\d{3})$`)
	for name, got := range cols {
		for _, c := range got {
			if !one.MatchString(c) {
				t.Errorf("%s column %q: %q is not in the column's notation (%s)", name, got, c, one)
			}
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
