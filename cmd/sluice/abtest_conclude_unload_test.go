package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestABTestConcludeBaselineUnloads: a completed A/B test puts traffic back
// on the baseline but keeps the candidate loaded, waiting for the decision.
// `sluice rollout conclude chat --pick baseline` is that decision; it only
// recorded it, so the candidate's GPUs stayed taken until someone noticed,
// and a pin to it was still served. Now it frees the candidate as an abort
// does (as --pick baseline on a running test already did): the unload
// webhook is called for it once, and a pin, a label or the force header
// naming it gets 410 saying why.
func TestABTestConcludeBaselineUnloads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an A/B test on live traffic (skipped under -short)")
	}
	var mu sync.Mutex
	var unloads []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Version string `json:"version"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		unloads = append(unloads, body.Version)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	calls := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), unloads...)
	}
	gw, token, g := rolloutGateway(t, fakellm.Behavior{}, fakellm.Behavior{}, func(c *config.Gateway) { c.Rollouts.UnloadWebhook = hook.URL })
	ctx := context.Background()
	// A label of its own keeps the candidate pinnable once the test has
	// put the traffic back (a staging version nothing names answers 404).
	mustRun(t, append([]string{"label", "chat", "beta=v1.2.0", "--reason", "beta testers"}, g...)...)
	cl := api.NewClient(gw.AdminURL(), token)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyABTest, ABSamples: 60, ABFeedbackWait: new(sluice.Duration(time.Second)),
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := cl.StartRollout(ctx, spec, "does the new fine-tune refuse less?"); err != nil {
		t.Fatal(err)
	}
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	driveUntilEnded(gw, 4, func(user string) {
		sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	})
	if r := gw.Control.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseCompleted {
		t.Fatalf("phase %s: %s", r.Phase, r.Decision)
	}

	ask := func(model string, force bool) (int, string) {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"hello"}]}`
		req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if force {
			req.Header.Set("X-Sluice-Version", "v1.2.0")
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Completed, not decided: the candidate stays loaded and pinnable.
	if code, body := ask("chat:v1.2.0", false); code != http.StatusOK {
		t.Fatalf("pinned to the candidate of the completed test, before the decision: %d %s", code, body)
	}
	if got := calls(); len(got) != 0 {
		t.Fatalf("unload webhook called %v before the decision", got)
	}

	out := mustRun(t, append([]string{"rollout", "conclude", "chat", "--pick", "baseline", "--reason", "no difference that matters"}, g...)...)
	t.Logf("sluice rollout conclude chat --pick baseline:\n%s", out)
	deadline := time.Now().Add(30 * time.Second)
	for len(calls()) == 0 || gw.Control.Registry().Rollouts["chat"].Unwinding != nil {
		if time.Now().After(deadline) {
			t.Fatalf("after conclude --pick baseline the unload webhook was called %v and the pending record is %+v; want chat:v1.2.0 unloaded",
				calls(), gw.Control.Registry().Rollouts["chat"].Unwinding)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := calls(); len(got) != 1 || got[0] != "chat:v1.2.0" {
		t.Errorf("unload webhook calls %v, want one for chat:v1.2.0", got)
	}
	for _, c := range []struct {
		how, model string
		force      bool
	}{{"pinned", "chat:v1.2.0", false}, {"by label", "chat@beta", false}, {"forced", "chat", true}} {
		code, body := ask(c.model, c.force)
		var e struct {
			Error struct{ Message, Code string }
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || code != http.StatusGone {
			t.Errorf("%s to the candidate after the decision: %d %s; want 410", c.how, code, body)
			continue
		}
		for _, s := range []string{"chat:v1.2.0", "concluded for the baseline", "its backend unloaded"} {
			if !strings.Contains(e.Error.Message, s) {
				t.Errorf("%s: message %q lacks %q", c.how, e.Error.Message, s)
			}
		}
	}
	if code, body := ask("chat", false); code != http.StatusOK {
		t.Errorf("the bare name after the decision: %d %s", code, body)
	}
	r := gw.Control.Registry().Rollouts["chat"]
	if r.Phase != sluice.PhaseCompleted || !strings.Contains(r.Decision, "baseline") {
		t.Errorf("after the decision: phase %s, decision %q; want completed, concluded for the baseline", r.Phase, r.Decision)
	}
	// The timeline says the drain's time, and that this decision moved
	// no traffic (the test's completion did).
	if !slices.ContainsFunc(r.Events, func(e sluice.RolloutEvent) bool {
		return e.Kind == "rollback_timings" && strings.Contains(e.Message, "drained in") && strings.Contains(e.Message, "when the A/B test completed")
	}) {
		t.Errorf("the timeline has no drain timing for the conclusion: %+v", r.Events)
	}
}

// TestABTestConcludeBaselineKeepsAServedCandidate: after the A/B test
// completed, an operator sent users to the candidate again by hand (a
// split). Concluding for the baseline then unloaded a version the policy
// served: the unload webhook freed its backend, and its share of the
// users got 410s. The conclusion is refused, saying the candidate serves
// traffic and how to go on; nothing is written or unloaded.
func TestABTestConcludeBaselineKeepsAServedCandidate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an A/B test on live traffic (skipped under -short)")
	}
	var mu sync.Mutex
	var unloads int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		unloads++
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	gw, token, g := rolloutGateway(t, fakellm.Behavior{}, fakellm.Behavior{}, func(c *config.Gateway) { c.Rollouts.UnloadWebhook = hook.URL })
	ctx := context.Background()
	cl := api.NewClient(gw.AdminURL(), token)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyABTest, ABSamples: 60, ABFeedbackWait: new(sluice.Duration(time.Second)),
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	started, err := cl.StartRollout(ctx, spec, "does the new fine-tune refuse less?")
	if err != nil {
		t.Fatal(err)
	}
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	driveUntilEnded(gw, 4, func(user string) {
		sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	})
	if r := gw.Control.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseCompleted {
		t.Fatalf("phase %s: %s", r.Phase, r.Decision)
	}
	mustRun(t, append([]string{"set", "split", "chat", started.Spec.Baseline + "=50", "v1.2.0=50", "--reason", "more users on the fine-tune"}, g...)...)

	_, errOut, code := run(t, append([]string{"rollout", "conclude", "chat", "--pick", "baseline", "--reason", "no difference that matters"}, g...)...)
	if code == 0 {
		t.Fatalf("conclude --pick baseline with the candidate served by a split: accepted; want refused")
	}
	for _, w := range []string{"v1.2.0", "serves", "sluice set policy"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("refusal %q lacks %q", errOut, w)
		}
	}
	r := gw.Control.Registry().Rollouts["chat"]
	if r.Unwinding != nil || slices.ContainsFunc(r.Events, func(e sluice.RolloutEvent) bool { return e.Kind == "concluded" }) {
		t.Errorf("after the refusal: pending %+v, events %+v; want nothing written", r.Unwinding, r.Events)
	}
	// Pinned to the candidate, the request is served: it is still loaded.
	res, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat:v1.2.0",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	if err != nil || len(res.Choices) == 0 {
		t.Errorf("pinned to the candidate after the refusal: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if unloads != 0 {
		t.Errorf("unload webhook called %d times; want none", unloads)
	}
}
