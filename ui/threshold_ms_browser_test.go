package ui_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
)

// TestVerdictThreshold_LatencyFloor: a latency row whose 2 ms floor rules
// (threshold_ms) shows "+2 ms" in the Threshold column, as the verdict's
// reason says it; it showed +1666.7%, the floor over a 0.12 ms baseline.
// A row the relative threshold rules keeps its percentage; the effect is
// in the threshold's unit. A row of a
// metric named in analysis.guards reads "(guard)" after its name, as in
// `sluice rollout status`, and so does a quality source's row, which is
// always a guard ("quality (judge, guard)"), also one stored before rows
// said so (no guard field); the A/B report's quality source rows are no
// guards and keep "quality (feedback)".
func TestVerdictThreshold_LatencyFloor(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	at := time.Now().UTC().Add(-time.Minute)
	verdict := sluice.Verdict{At: at, Outcome: sluice.OutcomePass, Reason: "all within", BaselineN: 2000, CandidateN: 2000, Metrics: []sluice.MetricVerdict{
		{Metric: "latency_p50", Outcome: sluice.OutcomePass, Baseline: 0.12, Candidate: 0.19, Effect: 0.58, Threshold: 2 / 0.12, ThresholdMS: 2, Unit: "relative", PValue: 0.2, BaselineN: 2000, CandidateN: 2000},
		{Metric: "latency_p99", Guard: true, Outcome: sluice.OutcomePass, Baseline: 300, Candidate: 310, Effect: 0.033, Threshold: 0.2, Unit: "relative", PValue: 0.5, BaselineN: 2000, CandidateN: 2000},
		{Metric: "quality", Source: "judge", Guard: true, Outcome: sluice.OutcomeInconclusive, Baseline: 0.8, Candidate: 0.79, Effect: -0.01, Threshold: -0.05, Unit: "absolute", PValue: 1, BaselineN: 40, CandidateN: 40},
		{Metric: "quality", Source: "feedback", Outcome: sluice.OutcomeInconclusive, Baseline: 0.8, Candidate: 0.79, Effect: -0.01, Threshold: -0.05, Unit: "absolute", PValue: 1, BaselineN: 40, CandidateN: 40},
	}}
	vj, _ := json.Marshal(verdict)
	rep := analysis.Report{Alpha: 0.05, BaselineN: 2000, CandidateN: 2000, Winner: "no difference", Summary: "equivalent", Metrics: []analysis.ABMetric{
		{Metric: "error_rate", Baseline: 0.01, Candidate: 0.011, Diff: 0.001, Lower: -0.01, Upper: 0.012, Margin: 0.02, Equivalence: "within", Winner: "no difference", PValue: 0.5, AdjustedP: 1},
		{Metric: "quality", Source: "feedback", Baseline: 0.8, Candidate: 0.81, Diff: 0.01, Lower: -0.02, Upper: 0.04, Margin: 0.05, Equivalence: "within", Winner: "no difference", PValue: 0.5, AdjustedP: 1},
	}}
	rj, _ := json.Marshal(rep)
	ro := sluice.Rollout{
		ID: "chat-1", Phase: sluice.PhaseCompleted, Percent: 0, StartedAt: at, StageStartedAt: at, EndedAt: at,
		Spec:        sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyABTest, CanaryPercent: 50},
		LastVerdict: vj,
		Events:      []sluice.RolloutEvent{{At: at, Kind: "ab_report", Message: "A/B report: no difference", Data: rj}},
	}
	if _, err := g.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.PutRollout(ro) }); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer), chromedp.WaitVisible(chromedp.CSS("#verdict-table tbody tr"))); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#verdict-table tbody tr")).map(tr => tr.children[0].textContent + " " + tr.children[5].textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"latency_p50 +2 ms", "latency_p99 (guard) +20.0%"}; len(got) < 2 || !slices.Equal(got[:2], want) {
		t.Errorf("threshold column %q, want %q first", got, want)
	}
	// Its effect in the threshold's unit: the change in ms where the floor
	// rules ("+58.3%" beside "+2 ms" could not be compared), relative
	// where the relative threshold does.
	eff, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#verdict-table tbody tr")).map(tr => tr.children[0].textContent + " " + tr.children[4].textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"latency_p50 +0.070 ms", "latency_p99 (guard) +3.3%"}; len(eff) < 2 || !slices.Equal(eff[:2], want) {
		t.Errorf("effect column %q, want %q first", eff, want)
	}
	names, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#verdict-table tbody tr")).map(tr => tr.children[0].textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"latency_p50", "latency_p99 (guard)", "quality (judge, guard)", "quality (feedback, guard)"}; !slices.Equal(names, want) {
		t.Errorf("verdict rows %q, want %q", names, want)
	}
	ab, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#ab-table tbody tr")).map(tr => tr.children[0].textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"error_rate", "quality (feedback)"}; !slices.Equal(ab, want) {
		t.Errorf("A/B report rows %q, want %q", ab, want)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
