package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_SampleTargetsNamed: the rollout card's Stage sample row
// and its Analysis line each counted "candidate requests" toward a target
// of their own (the stage's min_samples, the analysis's), and a reader
// could not tell which was which. Each now says what it counts and which
// setting sets it, as sluice rollout status does.
func TestDashboard_SampleTargetsNamed(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	startLoad(t, g.URL(), 2)
	// An analysis minimum the test never reaches, so its verdict is
	// "collecting data" at every look; the first stage waits for it too.
	spec := canarySpec()
	spec.Strategy, spec.CanaryPercent = sluice.StrategyProgressive, 0
	spec.Analysis.Interval, spec.Analysis.MinSamples = sluice.Duration(200*time.Millisecond), 1000000
	spec.Stages = []sluice.RolloutStage{{Percent: 50, Hold: sluice.Duration(time.Hour), MinSamples: 10}, {Percent: 100}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "progressive", spec); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	const stage = "of 1000000 split requests to the candidate at this stage (analysis.min_samples, which the first stage waits for)"
	const analysis = "of 1000000 candidate requests, the analysis's minimum before any verdict (analysis.min_samples)"
	var sample, decision string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`['sample-progress', 'rollout-decision'].map((id) => (document.getElementById(id) || {}).textContent || "")`))
		if err != nil {
			t.Fatal(err)
		}
		sample, decision = got[0], got[1]
		if strings.Contains(sample, stage) && strings.Contains(decision, analysis) {
			break
		}
	}
	if !strings.Contains(sample, stage) {
		t.Errorf("the Stage sample row says %q; want it to say it counts %q", sample, stage)
	}
	if !strings.Contains(decision, analysis) {
		t.Errorf("the Analysis line says %q; want it to name its own target: %q", decision, analysis)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
