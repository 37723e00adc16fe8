package ui_test

// The tests here came from a review, with the bugs they found; their
// comments say what the dashboard did before the fix.

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// TestHoldProgressAfterResume: after a pause and a resume, the
// stage's hold goes on from HeldFor, counted from HoldFrom (the resume),
// as Rollout.Held says and the controller acts on. The page adds the time
// since stage_started_at to held_for instead, so it counts the time held
// before the pause twice and the pause itself as held: the "Stage hold"
// bar runs ahead of the controller.
func TestHoldProgressAfterResume(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 2)
	spec := canarySpec()
	spec.Strategy = sluice.StrategyProgressive
	spec.CanaryPercent = 0
	spec.Stages = []sluice.RolloutStage{{Percent: 20, Hold: sluice.Duration(time.Hour), MinSamples: 10}, {Percent: 100, Hold: sluice.Duration(time.Hour), MinSamples: 10}}
	ctx0 := context.Background()
	if _, err := g.Rollouts.Start(ctx0, "alice-admin", "progressive", spec); err != nil {
		t.Fatalf("start rollout: %v", err)
	}
	waitFor(t, "the first stage", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	time.Sleep(3 * time.Second) // held 3 s
	if _, err := g.Rollouts.Act(ctx0, "olga-operator", "chat", rollout.EvPause, "look at the numbers"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(8 * time.Second) // paused 8 s: not held
	if _, err := g.Rollouts.Act(ctx0, "olga-operator", "chat", rollout.EvResume, "carry on"); err != nil {
		t.Fatal(err)
	}

	ctx, jsErrors := newBrowser(t)
	r := g.Control.Registry().Rollouts["chat"]
	// The page computes the hold when it draws the card, some time between
	// the sign-in and the read of its text: the bounds are the rollout's
	// hold at those two moments (a loaded CI machine took seconds between
	// them, and the page's figure, correct when drawn, was taken for wrong).
	lo := r.Held(time.Now())
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer), chromedp.WaitVisible(chromedp.CSS("#hold-progress"))); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	txt, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#hold-progress span:last-child").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	hi := r.Held(time.Now())
	m := regexp.MustCompile(`^(\d+) (s|ms) of`).FindStringSubmatch(txt)
	if m == nil {
		t.Fatalf("hold text %q", txt)
	}
	n, _ := strconv.Atoi(m[1])
	shown := time.Duration(n) * time.Second
	if m[2] == "ms" {
		shown = time.Duration(n) * time.Millisecond
	}
	// Whole seconds on the page: a second below the lower bound; the
	// bug counted the 8 s paused as held, far above the upper one.
	if shown < lo-time.Second || shown > hi+time.Second {
		t.Errorf("the page shows the stage held for %q; the rollout held it %s to %s while the page was drawn (held_for %s, hold_from %s, stage_started_at %s)",
			txt, lo.Round(time.Second), hi.Round(time.Second), r.HeldFor.D(), r.HoldFrom.Format(time.RFC3339), r.StageStartedAt.Format(time.RFC3339))
	}
}
