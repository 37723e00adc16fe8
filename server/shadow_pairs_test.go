package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/shared"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/server"
)

// adminGet sends GET url with token and returns the status and body.
func adminGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// shadowCategories are the request categories of the shadow run below, and
// how the candidate answers each: as stable does (same), longer (code),
// with a refusal (safety), with a tool call (tools).
var shadowCategories = []string{"same", "code", "safety", "tools"}

// startShadowRun starts a gateway whose candidate answers differently from
// stable by category, starts a shadow rollout mirroring every request, sends
// perCategory requests of each category through the OpenAI SDK, and waits
// for their pairs. It returns the gateway and an operator's client.
func startShadowRun(t *testing.T, perCategory int) (*server.Server, *api.Client) {
	t.Helper()
	twenty := fakellm.TokenCount{Mean: 20}
	stable := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{OutputTokens: twenty}})
	cand := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{OutputTokens: twenty}, Categories: map[string]fakellm.Behavior{
		"code":   {OutputTokens: fakellm.TokenCount{Mean: 40}},
		"safety": {OutputTokens: twenty, RefusalRate: 1},
		"tools":  {OutputTokens: twenty, ToolCallRate: 1},
	}})
	gw, cl := startRolloutGateway(t, "", stable, cand)
	ctx := context.Background()

	_, err := cl.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{})
	if sluice.ErrorCode(err) != sluice.CodeNotFound || !strings.Contains(sluice.ErrorMessage(err), "no shadow run of chat has left pairs") {
		t.Fatalf("pairs before any shadow run: %v, want a 404 saying there was no shadow run", err)
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyShadow, ShadowFraction: 1, ShadowSamples: 100000,
		Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := cl.StartRollout(ctx, spec, "compare the candidate's answers"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseShadow }, 30*time.Second)
	waitFor(t, "the proxy to mirror", 10*time.Second, func() bool { id, _ := gw.Proxy.Shadow("chat"); return id == "chat:v1.1.0" })
	if list, err := cl.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{}); err != nil || len(list.Pairs) != 0 || list.Shadowing != "v1.1.0" || list.Fraction != 1 {
		t.Fatalf("pairs of a shadow run without traffic yet: %+v, %v; want an empty page naming the candidate", list, err)
	}

	client := openaiClient(gw.URL())
	tools := []openai.ChatCompletionToolParam{{Function: shared.FunctionDefinitionParam{Name: "lookup_order",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}}}}}}
	for _, cat := range shadowCategories {
		for i := range perCategory {
			p := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("%s question %d", cat, i))}}
			if cat == "tools" {
				p.Tools = tools
			}
			if _, err := client.Chat.Completions.New(ctx, p, option.WithHeader("X-Request-Category", cat)); err != nil {
				t.Fatalf("%s request: %v", cat, err)
			}
		}
	}
	want := len(shadowCategories) * perCategory
	waitFor(t, "every pair", 20*time.Second, func() bool {
		list, err := cl.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{Limit: api.MaxLimit})
		return err == nil && len(list.Pairs) == want
	})
	return gw, cl
}

// TestAdminAPI_ShadowPairs reads a shadow run's answer pairs through the
// admin API: filtered by category, by answers that differ, by the side that
// refused or called a tool, paged, with texts for an operator and without
// for a viewer, and still there after the rollout ends.
func TestAdminAPI_ShadowPairs(t *testing.T) {
	const per = 3
	gw, cl := startShadowRun(t, per)
	ctx := context.Background()
	get := func(q sluice.ShadowPairQuery) api.ShadowPairList {
		t.Helper()
		list, err := cl.ShadowPairs(ctx, "chat", q)
		if err != nil {
			t.Fatalf("pairs %+v: %v", q, err)
		}
		return list
	}

	all := get(sluice.ShadowPairQuery{Limit: 100})
	if all.Kept != 500 || all.Truncated || all.TextsWithheld || all.Shadowing != "v1.1.0" {
		t.Errorf("answer %+v", all)
	}
	for i, p := range all.Pairs {
		if i > 0 && p.Seq >= all.Pairs[i-1].Seq {
			t.Errorf("pairs not newest first: seq %d after %d", p.Seq, all.Pairs[i-1].Seq)
		}
		if p.Primary.Version != "v1.0.0" || p.Shadow.Version != "v1.1.0" || p.Primary.Text == "" && p.Category != "tools" ||
			!strings.HasPrefix(p.Prompt, p.Category+" question ") {
			t.Errorf("pair %+v", p)
		}
	}
	t.Run("Category", func(t *testing.T) {
		for _, cat := range shadowCategories {
			list := get(sluice.ShadowPairQuery{Category: cat})
			if len(list.Pairs) != per {
				t.Errorf("category %s: %d pairs, want %d", cat, len(list.Pairs), per)
			}
			for _, p := range list.Pairs {
				if p.Category != cat {
					t.Errorf("category %s: got a pair of %s", cat, p.Category)
				}
				if same := cat == "same"; p.Diff.SameText != same || p.Differ() == same {
					t.Errorf("category %s: same text %v, differ %v", cat, p.Diff.SameText, p.Differ())
				}
			}
		}
	})
	t.Run("Differ", func(t *testing.T) {
		list := get(sluice.ShadowPairQuery{Differ: true})
		if len(list.Pairs) != 3*per {
			t.Errorf("%d pairs differ, want %d (all but the same category)", len(list.Pairs), 3*per)
		}
		for _, p := range list.Pairs {
			if p.Category == "same" {
				t.Errorf("a pair of equal answers passed differ: %+v", p)
			}
		}
		code := get(sluice.ShadowPairQuery{Differ: true, Category: "code"})
		if len(code.Pairs) != per || code.Pairs[0].Diff.Chars <= 0 || code.Pairs[0].Diff.OutputTokens != 20 {
			t.Errorf("longer answers: %+v", code.Pairs)
		}
	})
	t.Run("RefusalAndToolCall", func(t *testing.T) {
		ref := get(sluice.ShadowPairQuery{Refusal: "shadow_only"})
		if len(ref.Pairs) != per || ref.Pairs[0].Category != "safety" || !ref.Pairs[0].Shadow.Refusal || ref.Pairs[0].Primary.Refusal {
			t.Errorf("refused by the candidate only: %+v", ref.Pairs)
		}
		if n := len(get(sluice.ShadowPairQuery{Refusal: "primary_only"}).Pairs); n != 0 {
			t.Errorf("%d pairs refused by stable only, want 0", n)
		}
		tc := get(sluice.ShadowPairQuery{ToolCall: "one_side"})
		if len(tc.Pairs) != per || tc.Pairs[0].Category != "tools" || !tc.Pairs[0].Shadow.ToolCall || tc.Pairs[0].Diff.ToolCall != "shadow_only" {
			t.Errorf("tool call differences: %+v", tc.Pairs)
		}
		if n := len(get(sluice.ShadowPairQuery{Error: "any"}).Pairs); n != 0 {
			t.Errorf("%d pairs with a failure, want 0", n)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		seen := map[int64]bool{}
		q := sluice.ShadowPairQuery{Limit: 5}
		for pages := 1; ; pages++ {
			list := get(q)
			for _, p := range list.Pairs {
				if seen[p.Seq] {
					t.Fatalf("pair %d on two pages", p.Seq)
				}
				seen[p.Seq] = true
			}
			if !list.Truncated {
				if pages != 3 || len(seen) != len(all.Pairs) {
					t.Errorf("%d pages held %d pairs, want 3 pages of all %d", pages, len(seen), len(all.Pairs))
				}
				break
			}
			if list.NextBefore != list.Pairs[len(list.Pairs)-1].Seq {
				t.Fatalf("next_before %d, last seq %d", list.NextBefore, list.Pairs[len(list.Pairs)-1].Seq)
			}
			q.Before = list.NextBefore
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		for q, want := range map[string]string{
			"refusal=stable": `refusal \"stable\" is not a side`,
			"tool_call=yes":  `tool_call \"yes\" is not a side`,
			"differ=maybe":   `differ \"maybe\" is not true or false`,
			"before=0":       `before \"0\" is not a pair's seq`,
			"limit=0":        "limit 0 is out of range",
		} {
			code, body := adminGet(t, gw.AdminURL()+"/admin/v1/shadow/chat/pairs?"+q, cl.Token)
			if code < 400 || code >= 500 || !strings.Contains(body, want) {
				t.Errorf("%s: %d %s; want a 4xx saying %s", q, code, body, want)
			}
		}
		if list := get(sluice.ShadowPairQuery{Category: "nosuch"}); len(list.Pairs) != 0 {
			t.Errorf("an unknown category matched %d pairs", len(list.Pairs))
		}
		_, err := cl.ShadowPairs(ctx, "nope", sluice.ShadowPairQuery{})
		if sluice.ErrorCode(err) != sluice.CodeNotFound || !strings.Contains(sluice.ErrorMessage(err), `model "nope" is not registered`) {
			t.Errorf("unknown model: %v", err)
		}
	})
	t.Run("ViewerGetsNoTexts", func(t *testing.T) {
		secret, err := gw.CreateToken(ctx, "vic", sluice.RoleViewer, "test", "watch the shadow run")
		if err != nil {
			t.Fatal(err)
		}
		list, err := api.NewClient(gw.AdminURL(), secret).ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{Refusal: "shadow_only"})
		if err != nil || !list.TextsWithheld || len(list.Pairs) != per {
			t.Fatalf("viewer: %+v, %v; want the refused pairs, texts withheld", list, err)
		}
		for _, p := range list.Pairs {
			if p.Prompt != "" || p.Primary.Text != "" || p.Shadow.Text != "" || !p.Shadow.Refusal || p.Primary.Chars == 0 {
				t.Errorf("viewer's pair: %+v; want its numbers without texts", p)
			}
		}
	})
	t.Run("AfterTheRollout", func(t *testing.T) {
		if _, err := cl.RolloutAction(ctx, "chat", "abort", "seen enough"); err != nil {
			t.Fatal(err)
		}
		waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 30*time.Second)
		list := get(sluice.ShadowPairQuery{Limit: 100})
		if list.Shadowing != "" || len(list.Pairs) != len(all.Pairs) {
			t.Errorf("after the abort: shadowing %q, %d pairs; want none and all %d kept", list.Shadowing, len(list.Pairs), len(all.Pairs))
		}
	})
}

// TestGateway_ShadowPairsKept: shadow.pairs_kept sets how many pairs the
// gateway keeps (the proxy kept 500, whatever a long shadow run needed),
// and its default is the proxy's.
func TestGateway_ShadowPairsKept(t *testing.T) {
	if config.DefaultShadowPairsKept != proxy.DefaultShadowPairs {
		t.Fatalf("config's default %d is not the proxy's %d", config.DefaultShadowPairsKept, proxy.DefaultShadowPairs)
	}
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2})
	three := 3
	gw, _ := startRolloutGatewayWith(t, "", func(c *config.Gateway) { c.Shadow.PairsKept = &three }, stable, cand)
	if n := gw.Proxy.ShadowPairsKept(); n != 3 {
		t.Errorf("the proxy keeps %d pairs with shadow.pairs_kept: 3", n)
	}
	gw, _ = startRolloutGateway(t, "", stable, cand)
	if n := gw.Proxy.ShadowPairsKept(); n != config.DefaultShadowPairsKept {
		t.Errorf("the proxy keeps %d pairs by default, want %d", n, config.DefaultShadowPairsKept)
	}
}
