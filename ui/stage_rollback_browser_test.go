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

// TestDashboard_StagesMarkWhereARollbackEnded: sluice rollout status marks
// ✘ the stage a rollout rolled back or aborted once live ended at
// ("Stages: ✔20% ✘50%  100%"). The dashboard's stage list must say the
// same. Its timeline marked that stage ✕, as it marks the end ✕, so the
// two read as two failures and the stage's said nothing of the traffic it
// had reached; it is now marked as where the rollout ended, titled with
// the phase and the traffic on the candidate then.
func TestDashboard_StagesMarkWhereARollbackEnded(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	startLoad(t, g.URL(), 2)
	spec := canarySpec()
	spec.Strategy, spec.CanaryPercent, spec.Warmup = sluice.StrategyProgressive, 0, sluice.WarmupSpec{Skip: true}
	spec.Analysis.MinSamples = 10
	spec.Stages = []sluice.RolloutStage{{Percent: 20, MinSamples: 10}, {Percent: 50, Hold: sluice.Duration(time.Hour)}, {Percent: 100}}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "progressive", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second stage", 30*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing && r.StageIndex == 1
	})
	if _, err := g.Rollouts.Act(context.Background(), "olga-operator", "chat", rollout.EvAbort, "p99 doubled at 50%"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	const read = `Array.from(document.querySelectorAll("#stage-timeline .step")).map(e => e.className.replace("step", "").trim() + ":" + e.querySelector(".label").textContent + ":" + e.querySelector(".dot").textContent + ":" + (e.title || "")).join(" | ")`
	var got string
	waitFor(t, "the ended rollout's stages", 20*time.Second, func() bool {
		got = evalString(ctx, t, `(() => { const el = document.getElementById("stage-timeline"); return el ? `+read+` : ""; })()`)
		return got != ""
	})
	t.Logf("stages: %s", got)
	want := "done:warm-up:✓: | done:20%:✓: | failed ended:50%:✕:aborted here, with 50% of the traffic on the candidate: the steps after it never ran | skipped:100%:4: | failed:aborted:✕:"
	if got != want {
		t.Errorf("an aborted rollout's stages read\n%s\nwant\n%s", got, want)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
