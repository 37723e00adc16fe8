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

// pickModel chooses name in the model drop-down, as a person does.
func pickModel(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	js := `(() => { const s = document.getElementById("model-select"); s.value = ` + "`" + name + "`" + `; return s.dispatchEvent(new Event("change")); })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js)); err != nil {
		t.Fatalf("pick model %s: %v", name, err)
	}
}

// evalString evaluates js in the page.
func evalString(ctx context.Context, t *testing.T, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// What the user does: watches chat (traffic in categories chat, code,
// payments, support) and then picks another model in the drop-down, here one
// taken out of service (policy off) that has no traffic at all.
// What happens now: selectModel resets state.categories to [] but not the
// <select>; setCategories([]) then sees "no change" and returns, so the
// Category drop-down keeps listing chat's categories for the other model
// (and, when both models have the same categories, keeps showing the
// category picked before while the charts show all traffic).
// What should happen: the drop-down lists only the selected model's
// categories ("all traffic" alone for a model without traffic).
func TestCategorySelectFollowsModel(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name: "retired-chat", Policy: &sluice.Policy{Kind: sluice.PolicyOff},
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{stable.URL()}, Stage: sluice.StageProduction}},
	}}}
	if _, err := g.Control.Do(context.Background(), "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, g.URL(), 2)
	waitFor(t, "traffic in four categories", 20*time.Second, func() bool { return len(g.Recorder.Categories("chat")) >= 4 })
	l.finish()
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.operator)); err != nil {
		t.Fatalf("sign in: %v%s", err, pageText(ctx))
	}
	pickModel(ctx, t, "chat")
	const opts = `Array.from(document.querySelectorAll("#category-select option")).map(o => o.value || "(all)").join(",")`
	waitFor(t, "chat's categories in the drop-down", 30*time.Second, func() bool {
		return strings.Contains(evalString(ctx, t, opts), "payments")
	})
	pickModel(ctx, t, "retired-chat")
	waitFor(t, "the page to show retired-chat", 30*time.Second, func() bool {
		return strings.Contains(evalString(ctx, t, `document.getElementById("rollout-body").textContent`), "retired-chat")
	})
	// Give the page a few live ticks to correct itself.
	deadline := time.Now().Add(5 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		got = evalString(ctx, t, opts)
		if got == "(all)" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "(all)" {
		t.Errorf("Category drop-down for retired-chat (no traffic) lists %q, want only all traffic", got)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// What the user does: runs a progressive rollout 10% → 50% → 100% and
// aborts it (from the page) while it is at 10%.
// What happens now: for any ended phase the timeline marks every step
// before the last as done, so the 50% and 100% stages, which never ran,
// show a ✓ next to the ✕ "aborted": the page says the rollout went through
// every stage.
// What should happen: stages after the one the rollout ended in are not
// marked done.
func TestTimelineAfterAbortMarksOnlyStagesRun(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 2)
	spec := canarySpec()
	spec.Strategy = sluice.StrategyProgressive
	spec.CanaryPercent = 0
	spec.Stages = []sluice.RolloutStage{
		{Percent: 10, Hold: sluice.Duration(time.Hour), MinSamples: 30},
		{Percent: 50, Hold: sluice.Duration(time.Hour), MinSamples: 30},
		{Percent: 100, Hold: sluice.Duration(time.Hour), MinSamples: 30},
	}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "progressive", spec); err != nil {
		t.Fatalf("start: %v", err)
	}
	waitFor(t, "the first stage", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.operator)); err != nil {
		t.Fatalf("sign in: %v%s", err, pageText(ctx))
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#rollout-reason"), "answers look wrong"),
		chromedp.Click(chromedp.CSS(`#rollout-actions button[data-action="abort"]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitPage(ctx, t, "the page to show the abort", func(st pageState) bool { return st.Phase == "aborted" })
	if r := g.Control.Registry().Rollouts["chat"]; r.StageIndex != 0 {
		t.Fatalf("aborted at stage %d, want 0", r.StageIndex)
	}
	steps := evalString(ctx, t, `Array.from(document.querySelectorAll("#stage-timeline .step")).map(s => s.querySelector(".label").textContent + "=" + s.className.replace("step", "").trim()).join(" | ")`)
	for _, never := range []string{"50%=done", "100%=done"} {
		if strings.Contains(steps, never) {
			t.Errorf("timeline of a rollout aborted at 10%%: %s; a stage that never ran is marked done (%s)", steps, never)
		}
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
