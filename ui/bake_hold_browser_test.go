package ui_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// holdPage is what the hold row's browser test reads of the page.
type holdPage struct {
	Phase string `json:"phase"`
	Hold  string `json:"hold"` // the stage hold's progress row
	Bake  string `json:"bake"` // the bake's
}

const readHoldPage = `(() => {
  const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : ""; };
  return {phase: text('rollout-phase'), hold: text('hold-progress'), bake: text('bake-progress')};
})()`

// TestDashboard_BakeHidesStageHold: a progressive rollout promoted from a
// stage with a hold shows that stage's hold while it runs, and no "Stage
// hold" row once it bakes, nor while the bake is paused: the bake's time
// is not the stage's hold, and the bake row says what matters.
func TestDashboard_BakeHidesStageHold(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 5})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 2)
	spec := canarySpec()
	spec.Strategy, spec.CanaryPercent = sluice.StrategyProgressive, 0
	spec.Stages = []sluice.RolloutStage{{Percent: 10, Hold: sluice.Duration(time.Hour), MinSamples: 30}, {Percent: 50, Hold: sluice.Duration(time.Hour), MinSamples: 30}}
	spec.Bake = sluice.BakeFor(time.Hour)
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "progressive with a bake", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first stage to go live", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.operator)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	read := func() holdPage {
		st, err := chromedp.Run(ctx, chromedp.Evaluate[holdPage](readHoldPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return st
	}
	var st holdPage
	waitFor(t, "the stage hold on the page", 30*time.Second, func() bool {
		st = read()
		return st.Phase == "progressing" && st.Hold != ""
	})

	if _, err := g.Rollouts.Act(context.Background(), "alice-admin", "chat", rollout.EvPromote, "stage one looks fine"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bake on the page", 30*time.Second, func() bool {
		st = read()
		return st.Phase == "baking" && st.Bake != ""
	})
	if st.Hold != "" {
		t.Errorf("page while baking: stage hold row %q; want none beside the bake row %q", st.Hold, st.Bake)
	}

	if _, err := g.Rollouts.Act(context.Background(), "alice-admin", "chat", rollout.EvPause, "load test due"); err != nil {
		t.Fatalf("pause the bake: %v", err)
	}
	waitFor(t, "the paused bake on the page", 30*time.Second, func() bool {
		st = read()
		return st.Phase == "paused" && st.Bake != ""
	})
	if st.Hold != "" {
		t.Errorf("page while the bake is paused: stage hold row %q; want none beside the bake row %q", st.Hold, st.Bake)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
