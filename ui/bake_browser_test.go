package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// bakePage is what the bake's browser test reads of the page.
type bakePage struct {
	Phase   string `json:"phase"`
	Bake    string `json:"bake"`    // the bake's progress row
	Current string `json:"current"` // the timeline's current step
	Promote bool   `json:"promote"` // the promote button is enabled
	Abort   bool   `json:"abort"`
	Pause   bool   `json:"pause"`
	Resume  bool   `json:"resume"`
	// Decision is the rollout card's line under the bars.
	Decision string `json:"decision"`
}

const readBakePage = `(() => {
  const out = {phase: "", bake: "", current: "", promote: false, abort: false, pause: false, resume: false, decision: ""};
  const d = document.getElementById('rollout-decision'); out.decision = d ? d.textContent : "";
  const ph = document.getElementById('rollout-phase'); out.phase = ph ? ph.textContent : "";
  const b = document.getElementById('bake-progress'); out.bake = b ? b.textContent : "";
  const c = document.querySelector('#stage-timeline .step.current .label'); out.current = c ? c.textContent : "";
  const p = document.querySelector('#rollout-actions button[data-action="promote"]'); out.promote = !!p && !p.disabled;
  const a = document.querySelector('#rollout-actions button[data-action="abort"]'); out.abort = !!a && !a.disabled;
  const pa = document.querySelector('#rollout-actions button[data-action="pause"]'); out.pause = !!pa && !pa.disabled;
  const re = document.querySelector('#rollout-actions button[data-action="resume"]'); out.resume = !!re && !re.disabled;
  return out;
})()`

// TestDashboard_Bake: a promoted rollout still baking (RolloutSpec.Bake)
// is shown as running, with the bake as the timeline's current step and
// its progress, and an operator's Promote ends the bake. Paused, the bake
// stays the current step, its row says it is paused and what is left, the
// card says who paused it and why (not the promotion's decision), and
// Resume and Promote are offered.
func TestDashboard_Bake(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 5})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 2)
	spec := canarySpec()
	spec.Bake = sluice.BakeFor(time.Hour)
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary with a bake", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary to go live", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	if _, err := g.Rollouts.Act(context.Background(), "alice-admin", "chat", rollout.EvPromote, "canary looks fine"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.operator)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var st bakePage
	waitFor(t, "the bake on the page", 30*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[bakePage](readBakePage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return st.Phase == "baking" && st.Bake != ""
	})
	if !strings.HasPrefix(st.Current, "bake ") || !strings.Contains(st.Bake, " of ") || !st.Promote || !st.Abort || !st.Pause {
		t.Errorf("page while baking: %+v; want the bake step current, its progress, promote, pause and abort offered", st)
	}
	// The operator pauses the bake from the page.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#rollout-reason"), "load test due"),
		chromedp.Click(chromedp.CSS(`#rollout-actions button[data-action="pause"]`)),
	); err != nil {
		t.Fatalf("pause click: %v", err)
	}
	waitFor(t, "the paused bake on the page", 30*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[bakePage](readBakePage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return st.Phase == "paused"
	})
	if !strings.HasPrefix(st.Current, "bake ") || !strings.Contains(st.Bake, "paused with ") || !strings.Contains(st.Bake, " left") || !st.Resume || !st.Promote || st.Pause {
		t.Errorf("page while the bake is paused: %+v; want the bake step current, its row saying paused and what is left, resume and promote offered", st)
	}
	// The card said "Decision: promoted by alice-admin…" while paused: it
	// says who paused the bake and why.
	if !strings.HasPrefix(st.Decision, "Paused by olga-operator: the bake stops at ") || !strings.Contains(st.Decision, "load test due") || strings.Contains(st.Decision, "promoted") {
		t.Errorf("rollout card's line while the bake is paused: %q; want who paused it and why, not the promotion", st.Decision)
	}
	if _, err := g.Rollouts.Act(context.Background(), "alice-admin", "chat", rollout.EvResume, "load test over"); err != nil {
		t.Fatalf("resume the bake: %v", err)
	}
	waitFor(t, "the resumed bake on the page", 30*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[bakePage](readBakePage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return st.Phase == "baking" && st.Promote
	})
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#rollout-reason"), "bake looks fine"),
		chromedp.Click(chromedp.CSS(`#rollout-actions button[data-action="promote"]`)),
	); err != nil {
		t.Fatalf("promote click: %v", err)
	}
	waitFor(t, "the bake's end in the gateway", 10*time.Second, func() bool {
		return g.Control.Registry().Rollouts["chat"].Phase == sluice.PhasePromoted
	})
	if d := g.Control.Registry().Rollouts["chat"].Decision; !strings.Contains(d, "bake ended early by olga-operator") {
		t.Errorf("decision %q: want the bake ended early by the operator", d)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
