package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_ShadowToolCalls: the shadow review showed only that both
// answers called a tool. Stable (fakellm) calls transfer_funds({}), the
// candidate transfer_funds with an amount; in Chromium an operator sees
// each side's call as name(arguments) and a badge saying the arguments
// differ, a viewer the names without the arguments.
func TestDashboard_ShadowToolCalls(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ToolCallRate: 1}})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	pays := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"transfer_funds","arguments":"{\"to\":\"acct-1\",\"amount\":12}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
	}))
	t.Cleanup(pays.Close)
	bg := context.Background()
	if _, err := g.Control.Do(bg, "test", "setup", func(e *sluice.Edit) error {
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1.2.0", Endpoints: []string{pays.URL}, Stage: sluice.StageStaging})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyShadow, ShadowFraction: 1, ShadowSamples: 100000, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := g.Rollouts.Start(bg, "alice-admin", "payments check", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "mirroring", 20*time.Second, func() bool { id, _ := g.Proxy.Shadow("chat"); return id == "chat:v1.2.0" })
	resp, err := http.Post(g.URL()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"pay acct-1 120"}],`+
		`"tools":[{"type":"function","function":{"name":"transfer_funds","parameters":{"type":"object"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	waitFor(t, "the pair", 20*time.Second, func() bool { return len(g.Proxy.ShadowPairs("chat", 0)) == 1 })

	type view struct {
		Calls  []string `json:"calls"`
		Badges string   `json:"badges"`
	}
	read := func(secret string) view {
		t.Helper()
		if err := chromedp.Do(ctx,
			signInAs(g.AdminURL(), secret),
			chromedp.Click(chromedp.CSS(`a[data-tab="shadow"]`)),
			chromedp.WaitVisible(chromedp.CSS("#shadow-list .pair")),
		); err != nil {
			t.Fatalf("shadow tab: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
		}
		v, err := chromedp.Run(ctx, chromedp.Evaluate[view](`({
			calls: Array.from(document.querySelectorAll("#shadow-list .pair .pair-body > div")).map((d) => Array.from(d.querySelectorAll(".pair-calls > div")).map((c) => c.textContent).join(", ")),
			badges: document.querySelector("#shadow-list .pair .pair-head").textContent,
		})`))
		if err != nil {
			t.Fatalf("read the pair: %v", err)
		}
		return v
	}
	op := read(g.operator)
	if len(op.Calls) != 2 || op.Calls[0] != "transfer_funds({})" || op.Calls[1] != `transfer_funds({"to":"acct-1","amount":12})` || !strings.Contains(op.Badges, "other tool arguments") {
		t.Errorf("operator sees calls %q, badges %q; want transfer_funds({}) beside transfer_funds({\"to\":\"acct-1\",\"amount\":12}) and \"other tool arguments\"%s", op.Calls, op.Badges, pageText(ctx))
	}
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		p := filepath.Join(screenshotDir(t), "dashboard-shadow-calls.png")
		if os.WriteFile(p, png, 0o644) == nil {
			t.Logf("screenshot of the shadow review: %s", p)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form"))); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	vw := read(g.viewer)
	if len(vw.Calls) != 2 || vw.Calls[0] != "transfer_funds(…)" || vw.Calls[1] != "transfer_funds(…)" || !strings.Contains(vw.Badges, "other tool arguments") {
		t.Errorf("viewer sees calls %q, badges %q; want the names alone, and that the arguments differ", vw.Calls, vw.Badges)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
