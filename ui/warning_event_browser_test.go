package ui_test

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestWarningEventStyle: a rollback onto versions that are all out of
// service adds a "warning" event to the timeline (requests for the model
// now fail). Its row was marked as a rollback's, but its chip had no
// colour of its own: the one event that says requests are failing wore
// the grey chip of a routine "stage" or "verdict". It now wears a
// rollback's red, as its row does.
func TestWarningEventStyle(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	at := time.Now().UTC().Add(-time.Minute)
	ro := sluice.Rollout{
		ID: "chat-1", Phase: sluice.PhaseAborted, Percent: 0, StartedAt: at, StageStartedAt: at, EndedAt: at,
		Spec:     sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyCanary, CanaryPercent: 10},
		Decision: "aborted by olga-operator: bad answers",
		Events: []sluice.RolloutEvent{
			{At: at, Kind: "started", Message: "canary started"},
			{At: at, Kind: "stage", Percent: 10, Message: "stage 1: candidate at 10% of traffic"},
			{At: at, Kind: "aborted", Message: "aborted by olga-operator: bad answers"},
			{At: at, Kind: "warning", Message: "traffic went back to chat:v1.0.0, which is failing health checks"},
		},
	}
	if _, err := g.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.PutRollout(ro) }); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer), chromedp.WaitVisible(chromedp.CSS(`#rollout-events li[data-kind="warning"]`))); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	type look struct {
		Row, Chip, Color string
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]look](`(() => {
	  const out = {};
	  for (const li of document.querySelectorAll("#rollout-events li")) {
	    const chip = getComputedStyle(li.querySelector(".chip"));
	    out[li.dataset.kind] = { Row: getComputedStyle(li).backgroundColor, Chip: chip.backgroundColor, Color: chip.color };
	  }
	  return out;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	warn, aborted, stage := got["warning"], got["aborted"], got["stage"]
	if warn != aborted {
		t.Errorf("the warning event looks like %+v, an abort like %+v; want it marked as a rollback is, row and chip", warn, aborted)
	}
	if warn.Chip == stage.Chip {
		t.Errorf("the warning event's chip has a routine event's background (%s)", stage.Chip)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
