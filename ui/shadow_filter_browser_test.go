package ui_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_ShadowFilters: the Shadow review tab listed the newest 50
// pairs with no way to pick the ones that matter, so a shadow run whose
// candidate refused one category in ten showed a page of "same text"
// pairs, while sluice rollout pairs --differ --category found them at
// once. The tab now has "Only pairs that differ" and a category filter,
// read from the admin API as the CLI reads them, texts withheld from a
// viewer as before.
func TestDashboard_ShadowFilters(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g, send := shadowRun(t)
	send("payments", 2)
	send("general", 6)
	waitFor(t, "the pairs", 20*time.Second, func() bool { return len(g.Proxy.ShadowPairs("chat", 0)) == 8 })

	pairs := func() []string {
		t.Helper()
		var out []string
		waitFor(t, "the shadow list", 10*time.Second, func() bool {
			var err error
			out, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`document.querySelector("#shadow-list .pair, #no-shadow") ?
			  Array.from(document.querySelectorAll("#shadow-list .pair")).map((p) => p.querySelector(".pair-head").textContent) : null`))
			return err == nil && out != nil
		})
		return out
	}
	if err := chromedp.Do(ctx,
		signedIn(g.AdminURL(), g.viewer),
		chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#shadow-list .pair`)),
	); err != nil {
		t.Fatalf("open the Shadow review tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	if all := pairs(); len(all) != 8 {
		t.Fatalf("unfiltered, the tab lists %d pairs, want 8: %q", len(all), all)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#shadow-differ"))); err != nil {
		t.Fatal(err)
	}
	var got []string
	waitFor(t, "the differing pairs alone", 10*time.Second, func() bool { got = pairs(); return len(got) == 2 })
	for _, p := range got {
		if !strings.Contains(p, "payments") || !strings.Contains(p, "refusal: shadow only") {
			t.Errorf("with Only pairs that differ, the tab lists %q; want the payments pairs the candidate refused", p)
		}
	}
	if withheld := evalString(ctx, t, `document.getElementById("shadow-withheld") ? "yes" : "no"`); withheld != "yes" {
		t.Error("filtered, a viewer's tab no longer says the texts are withheld")
	}
	if txt := evalString(ctx, t, `document.getElementById("shadow-list").innerText`); strings.Contains(txt, "pay acct-1") {
		t.Error("filtered, a viewer's tab shows a prompt")
	}
	// A category that differs nowhere: said so, not an empty list.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#shadow-category"), "general")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("shadow-category").dispatchEvent(new Event("change"))`)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the empty filter's note", 10*time.Second, func() bool {
		return strings.Contains(evalString(ctx, t, `(document.getElementById("no-shadow") || {}).textContent || ""`), "none differs in category general")
	})
	// The category alone: the six general pairs.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#shadow-differ"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the general pairs", 10*time.Second, func() bool { got = pairs(); return len(got) == 6 })
	for _, p := range got {
		if !strings.Contains(p, "general") {
			t.Errorf("with category general, the tab lists %q", p)
		}
	}
	// Two filters changed at once (a tick, then a category picked before
	// the first answer came): the list is the last one's alone. Each load
	// cleared the list and appended its answer when it came, so the list
	// held both answers, the first's for filters no longer set.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
	  window.__inflight = 0;
	  const f = window.fetch;
	  window.fetch = (...a) => { window.__inflight++; return f(...a).finally(() => { setTimeout(() => window.__inflight--, 0); }); };
	  const d = document.getElementById("shadow-differ"), c = document.getElementById("shadow-category");
	  d.checked = true; d.dispatchEvent(new Event("change")); // differ in general: none
	  c.value = "payments"; c.dispatchEvent(new Event("change")); // differ in payments: two
	  return true;
	})()`)); err != nil {
		t.Fatal(err)
	}
	var shown string
	waitFor(t, "both filters' answers", 10*time.Second, func() bool {
		shown = evalString(ctx, t, `window.__inflight === 0 ? Array.from(document.querySelectorAll("#shadow-list .pair, #no-shadow")).map((e) => e.id === "no-shadow" ? "none" : "pair").join(" ") : ""`)
		return shown != ""
	})
	if shown != "pair pair" {
		t.Errorf("after ticking Only pairs that differ and picking payments at once, the tab shows %q; want the two differing payments pairs alone (pair pair)", shown)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}

// shadowRun starts a gateway whose candidate refuses every payments
// request, mirroring all of chat's traffic to it in a shadow rollout, and
// returns it with a function sending n chat requests of a category
// through openai-go, each leaving a pair.
func shadowRun(t *testing.T) (*gateway, func(category string, n int)) {
	t.Helper()
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Categories: map[string]fakellm.Behavior{"payments": {RefusalRate: 1}}})
	g := MustGateway(t, stable, cand)
	bg := context.Background()
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyShadow, ShadowFraction: 1, ShadowSamples: 100000, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := g.Rollouts.Start(bg, "alice-admin", "refusals check", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mirroring", 20*time.Second, func() bool { id, _ := g.Proxy.Shadow("chat"); return id == "chat:v1.1.0" })
	cl := openai.NewClient(option.WithBaseURL(g.URL()+"/v1"), option.WithAPIKey("none"), option.WithMaxRetries(0))
	return g, func(category string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if _, err := cl.Chat.Completions.New(bg, openai.ChatCompletionNewParams{Model: "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("pay acct-1 120")}},
				option.WithHeader("X-Request-Category", category)); err != nil {
				t.Fatalf("request: %v", err)
			}
		}
	}
}
