package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestCLI_RolloutPairs reviews a shadow run from the terminal: a real
// gateway mirrors traffic sent through the OpenAI SDK to a candidate that
// answers longer (code) or refuses (safety), and sluice rollout pairs lists,
// filters, pages and exports the pairs.
func TestCLI_RolloutPairs(t *testing.T) {
	twenty := fakellm.TokenCount{Mean: 20}
	backend := func(cats map[string]fakellm.Behavior) string {
		b := fakellm.New(fakellm.Config{Default: fakellm.Behavior{OutputTokens: twenty}, Categories: cats})
		if err := b.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		return b.URL()
	}
	stable := backend(nil)
	cand := backend(map[string]fakellm.Behavior{"code": {OutputTokens: fakellm.TokenCount{Mean: 40}}, "safety": {OutputTokens: twenty, RefusalRate: 1}})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.Tick = 20 * time.Millisecond
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	ctx := context.Background()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, Labels: map[string]string{"stable": "v1"},
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{stable}, Stage: sluice.StageProduction}, {Version: "v2", Endpoints: []string{cand}, Stage: sluice.StageStaging}}}}}
	if _, err := gw.Control.Do(ctx, "test", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	op, err := gw.CreateToken(ctx, "olga", sluice.RoleOperator, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := gw.CreateToken(ctx, "vic", sluice.RoleViewer, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	as := func(token string, args ...string) (string, string, int) {
		return run(t, append(args, "--server", gw.AdminURL(), "--token", token)...)
	}

	if _, errOut, code := as(op, "rollout", "pairs", "chat"); code != 1 || !strings.Contains(errOut, "no shadow run of chat has left pairs") || !strings.Contains(errOut, "--strategy shadow") {
		t.Errorf("before a shadow run: exit %d, %s", code, errOut)
	}
	if _, errOut, code := as(op, "rollout", "start", "chat", "--to", "v2", "--strategy", "shadow", "--skip-warmup", "--reason", "compare answers"); code != 0 {
		t.Fatalf("rollout start: %s", errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	for id, _ := gw.Proxy.Shadow("chat"); id != "chat:v2"; id, _ = gw.Proxy.Shadow("chat") {
		if time.Now().After(deadline) {
			t.Fatal("the shadow run did not start mirroring in 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	for _, cat := range []string{"same", "code", "safety"} {
		for i := range 2 {
			p := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("%s question %d", cat, i))}}
			if _, err := client.Chat.Completions.New(ctx, p, option.WithHeader("X-Request-Category", cat)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for pairs, _ := gw.Proxy.FindShadowPairs(sluice.ShadowPairQuery{}); len(pairs) < 6; pairs, _ = gw.Proxy.FindShadowPairs(sluice.ShadowPairQuery{}) {
		if time.Now().After(deadline) {
			t.Fatalf("%d pairs of 6 after 30s", len(pairs))
		}
		time.Sleep(10 * time.Millisecond)
	}

	t.Run("ExportDiffering", func(t *testing.T) {
		out, errOut, code := as(op, "rollout", "pairs", "chat", "--differ", "-o", "jsonl")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 4 {
			t.Fatalf("exit %d, %d lines: %s%s", code, len(lines), out, errOut)
		}
		for _, l := range lines {
			var p sluice.ShadowPair
			if err := json.Unmarshal([]byte(l), &p); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if p.Category == "same" || p.Prompt == "" || p.Primary.Text == "" || p.Shadow.Text == "" || p.Primary.Version != "v1" || p.Shadow.Version != "v2" {
				t.Errorf("exported pair %+v", p)
			}
		}
	})
	t.Run("TableOfRefusals", func(t *testing.T) {
		out, errOut, code := as(op, "rollout", "pairs", "chat", "--refusal", "shadow_only", "--category", "safety")
		rows := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(rows) != 3 || !strings.HasPrefix(rows[0], "SEQ") || !strings.Contains(rows[1], "candidate only") || !strings.Contains(rows[1], "v1 → v2") {
			t.Errorf("exit %d:\n%s%s", code, out, errOut)
		}
		// The table says "candidate only" and "stable only": a user
		// filtering by what they read gets the same pairs (the walkthrough
		// met "candidate only" refused as a side).
		again, errOut, code := as(op, "rollout", "pairs", "chat", "--refusal", "candidate_only", "--category", "safety")
		if code != 0 || again != out {
			t.Errorf("--refusal candidate_only: exit %d, want the table of --refusal shadow_only:\n%s%s", code, again, errOut)
		}
		if _, errOut, code := as(op, "rollout", "pairs", "chat", "--refusal", "stable_only", "--category", "safety"); code != 0 {
			t.Errorf("--refusal stable_only: exit %d: %s", code, errOut)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		out, errOut, code := as(op, "rollout", "pairs", "chat", "--limit", "4")
		if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 5 || !strings.Contains(errOut, "more match: the next page is --before ") {
			t.Errorf("first page: exit %d:\n%s%s", code, out, errOut)
		}
		out, errOut, code = as(op, "rollout", "pairs", "chat", "--limit", "4", "--all", "-o", "json")
		var list struct {
			Pairs     []sluice.ShadowPair `json:"pairs"`
			Truncated bool                `json:"truncated"`
		}
		if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Pairs) != 6 || list.Truncated {
			t.Errorf("--all: exit %d, %v, %d pairs: %s", code, err, len(list.Pairs), errOut)
		}
	})
	t.Run("Viewer", func(t *testing.T) {
		out, errOut, code := as(viewer, "rollout", "pairs", "chat", "-o", "jsonl")
		if code != 0 || strings.Contains(out, "question") || strings.Contains(out, "I cannot") || !strings.Contains(errOut, "texts are withheld") {
			t.Errorf("viewer: exit %d:\n%s%s", code, out, errOut)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"rollout", "pairs", "chat", "--refusal", "sometimes"}, `--refusal "sometimes" is not a side`},
			{[]string{"rollout", "pairs", "chat", "--tool-call", "yes"}, `--tool-call "yes" is not a side`},
			{[]string{"rollout", "pairs", "chat", "--limit", "0"}, "--limit 0 is out of range: use 1 to 10000 (the default is 50)"},
			{[]string{"rollout", "pairs", "nope"}, `model "nope" is not registered`},
			{[]string{"get", "models", "-o", "jsonl"}, "--output jsonl is for sluice rollout pairs"},
		} {
			_, errOut, code := as(op, tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("sluice %s: exit %d, %s; want an error saying %s", strings.Join(tc.args, " "), code, errOut, tc.want)
			}
		}
	})
}
