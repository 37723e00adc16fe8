package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"
	"github.com/openai/openai-go/shared"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// toolCase is how the candidate of TestCLI_RolloutPairsToolCalls answers a
// prompt holding word, where stable (fakellm) calls transfer_funds({}).
var toolCases = []struct {
	word, name, args string
	calls            string // the pair's diff.calls
}{
	{"same", "transfer_funds", `{ }`, "same"},                                // the same JSON, other bytes
	{"amount", "transfer_funds", `{"to":"acct-1","amount":12}`, "arguments"}, // another amount
	{"other", "refund", `{}`, "names"},                                       // another tool
	{"bad", "transfer_funds", `{"to":"acct-1",`, "arguments"},                // malformed
}

// toolBackend answers every chat or Responses request with the tool call
// toolCases gives for its prompt: whole, or streamed with its arguments in
// three pieces after the name, as OpenAI streams them.
func toolBackend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stream bool `json:"stream"`
		}
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &req)
		name, args := "none", ""
		for _, c := range toolCases {
			if strings.Contains(string(body), "pay "+c.word) {
				name, args = c.name, c.args
			}
		}
		q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
		pieces := []string{args[:len(args)/3], args[len(args)/3 : 2*len(args)/3], args[2*len(args)/3:]}
		responsesAPI := strings.HasSuffix(r.URL.Path, "/responses")
		item := func(a string) string {
			return `{"type":"function_call","id":"fc_1","call_id":"call_1","name":` + q(name) + `,"arguments":` + q(a) + `,"status":"completed"}`
		}
		response := `{"id":"resp_1","object":"response","created_at":1,"model":"up","status":"completed","output":[` + item(args) + `],"usage":{"input_tokens":5,"output_tokens":7,"total_tokens":12}}`
		if !req.Stream {
			w.Header().Set("Content-Type", "application/json")
			if responsesAPI {
				io.WriteString(w, response)
				return
			}
			io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":`+q(name)+`,"arguments":`+q(args)+`}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		send := func(ev string) { io.WriteString(w, ev); w.(http.Flusher).Flush() }
		if responsesAPI {
			ev := func(typ, rest string) { send("event: " + typ + "\ndata: {\"type\":\"" + typ + "\"," + rest + "}\n\n") }
			ev("response.created", `"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}`)
			ev("response.output_item.added", `"output_index":0,"item":`+item(""))
			for _, p := range pieces {
				ev("response.function_call_arguments.delta", `"item_id":"fc_1","output_index":0,"delta":`+q(p))
			}
			ev("response.output_item.done", `"output_index":0,"item":`+item(args))
			ev("response.completed", `"response":`+response)
			return
		}
		chunk := func(delta, finish string) {
			send(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finish + "}]}\n\n")
		}
		chunk(`{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":`+q(name)+`,"arguments":""}}]}`, "null")
		for _, p := range pieces {
			chunk(`{"tool_calls":[{"index":0,"function":{"arguments":`+q(p)+`}}]}`, "null")
		}
		chunk(`{}`, `"tool_calls"`)
		send("data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCLI_RolloutPairsToolCalls reviews a payment flow's shadow run: stable
// (fakellm) calls transfer_funds({}), the candidate the same tool with the
// same JSON spelled otherwise, another amount, a malformed argument string,
// or another tool. Chat and Responses requests, whole and streamed, go
// through a real gateway by the OpenAI SDK; sluice rollout pairs shows each
// side's calls, says how they differ, and --differ lists the ones that do.
// A viewer gets the tools' names but not their arguments.
func TestCLI_RolloutPairsToolCalls(t *testing.T) {
	stable := fakellm.New(fakellm.Config{Default: fakellm.Behavior{ToolCallRate: 1}})
	if err := stable.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stable.Close)
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
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{stable.URL()}, Stage: sluice.StageProduction}, {Version: "v2", Endpoints: []string{toolBackend(t)}, Stage: sluice.StageStaging}}}}}
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
	if _, errOut, code := as(op, "rollout", "start", "chat", "--to", "v2", "--strategy", "shadow", "--skip-warmup", "--reason", "payments"); code != 0 {
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
	chatTools := []openai.ChatCompletionToolParam{{Function: shared.FunctionDefinitionParam{Name: "transfer_funds",
		Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"to": map[string]any{"type": "string"}, "amount": map[string]any{"type": "number"}}}}}}
	respTools := []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "transfer_funds", Parameters: map[string]any{"type": "object"}}}}
	kinds := []string{"chat", "chat-stream", "responses", "responses-stream"}
	for _, kind := range kinds {
		for _, c := range toolCases {
			prompt := "pay " + c.word
			cat := option.WithHeader("X-Request-Category", kind)
			switch kind {
			case "chat", "chat-stream":
				p := openai.ChatCompletionNewParams{Model: "chat", Tools: chatTools, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}}
				if kind == "chat" {
					if _, err := client.Chat.Completions.New(ctx, p, cat); err != nil {
						t.Fatalf("%s %s: %v", kind, c.word, err)
					}
					continue
				}
				s := client.Chat.Completions.NewStreaming(ctx, p, cat)
				for s.Next() {
				}
				if err := s.Err(); err != nil {
					t.Fatalf("%s %s: %v", kind, c.word, err)
				}
			default:
				p := responses.ResponseNewParams{Model: "chat", Tools: respTools, Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(prompt)}}
				if kind == "responses" {
					if _, err := client.Responses.New(ctx, p, cat); err != nil {
						t.Fatalf("%s %s: %v", kind, c.word, err)
					}
					continue
				}
				s := client.Responses.NewStreaming(ctx, p, cat)
				for s.Next() {
				}
				if err := s.Err(); err != nil {
					t.Fatalf("%s %s: %v", kind, c.word, err)
				}
			}
		}
	}
	want := len(kinds) * len(toolCases)
	for pairs, _ := gw.Proxy.FindShadowPairs(sluice.ShadowPairQuery{}); len(pairs) < want; pairs, _ = gw.Proxy.FindShadowPairs(sluice.ShadowPairQuery{}) {
		if time.Now().After(deadline) {
			t.Fatalf("%d pairs of %d after 30s", len(pairs), want)
		}
		time.Sleep(10 * time.Millisecond)
	}

	pairsOf := func(token string, args ...string) []sluice.ShadowPair {
		t.Helper()
		out, errOut, code := as(token, append([]string{"rollout", "pairs", "chat", "--limit", "100", "-o", "jsonl"}, args...)...)
		if code != 0 {
			t.Fatalf("rollout pairs %v: exit %d: %s", args, code, errOut)
		}
		var pairs []sluice.ShadowPair
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var p sluice.ShadowPair
			if err := json.Unmarshal([]byte(l), &p); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			pairs = append(pairs, p)
		}
		return pairs
	}
	t.Run("Calls", func(t *testing.T) {
		pairs := pairsOf(op)
		if len(pairs) != want {
			t.Fatalf("%d pairs, want %d", len(pairs), want)
		}
		for _, p := range pairs {
			c := toolCases[0]
			for _, tc := range toolCases {
				if p.Prompt == "pay "+tc.word {
					c = tc
				}
			}
			pr, sh := p.Primary.ToolCalls, p.Shadow.ToolCalls
			if len(pr) != 1 || pr[0] != (sluice.ShadowToolCall{Name: "transfer_funds", Arguments: "{}"}) ||
				len(sh) != 1 || sh[0] != (sluice.ShadowToolCall{Name: c.name, Arguments: c.args}) ||
				p.Diff.Calls != c.calls || p.Diff.ToolCall != "both" || p.Stream != strings.HasSuffix(p.Category, "-stream") {
				t.Errorf("%s %q: stable %+v, candidate %+v, diff %+v", p.Category, p.Prompt, pr, sh, p.Diff)
			}
		}
	})
	t.Run("Differ", func(t *testing.T) {
		// Both sides call a tool and neither has text: only the calls
		// tell the pairs apart.
		for _, p := range pairsOf(op, "--differ") {
			if p.Diff.Calls == "same" {
				t.Errorf("--differ lists a pair with the same calls: %+v", p)
			}
		}
		if n := len(pairsOf(op, "--differ")); n != len(kinds)*(len(toolCases)-1) {
			t.Errorf("--differ: %d pairs, want %d", n, len(kinds)*(len(toolCases)-1))
		}
	})
	t.Run("Table", func(t *testing.T) {
		out, errOut, code := as(op, "rollout", "pairs", "chat", "--category", "chat-stream", "--differ")
		if code != 0 || !strings.Contains(out, `transfer_funds({}) → transfer_funds({"to":"acct-1","amount":12})`) ||
			!strings.Contains(out, "transfer_funds({}) → refund({})") || !strings.Contains(out, "both, other arguments") || !strings.Contains(out, "both, other tools") {
			t.Errorf("exit %d:\n%s%s", code, out, errOut)
		}
	})
	t.Run("Viewer", func(t *testing.T) {
		for _, p := range pairsOf(viewer) {
			for _, c := range append(p.Primary.ToolCalls, p.Shadow.ToolCalls...) {
				if c.Name == "" || c.Arguments != "" {
					t.Errorf("a viewer got the call %+v: want its name alone", c)
				}
			}
			if p.Diff.Calls == "" {
				t.Errorf("a viewer does not see how the calls differ: %+v", p.Diff)
			}
		}
		out, _, code := as(viewer, "rollout", "pairs", "chat", "--category", "chat", "--differ")
		if code != 0 || strings.Contains(out, "acct-1") || !strings.Contains(out, "transfer_funds(…) → refund(…)") {
			t.Errorf("viewer's table: exit %d:\n%s", code, out)
		}
		// What a viewer was shown was withheld from a copy: the pairs
		// kept still have their arguments.
		for _, p := range pairsOf(op) {
			if p.Primary.ToolCalls[0].Arguments != "{}" {
				t.Fatalf("after a viewer's read an operator gets %+v", p.Primary.ToolCalls)
			}
		}
	})
}
