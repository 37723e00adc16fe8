package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/shared"

	"github.com/sluicehq/sluice/proxy"
)

// toolBackend answers as X-Answer asks: "call" with a call of
// transfer_funds, "text" with prose, "fail" with a 500; streamed when the
// request asks for a stream.
func toolBackend(tb testing.TB) *httptest.Server {
	tb.Helper()
	const call = `{"index":0,"id":"call_1","type":"function","function":{"name":"transfer_funds","arguments":"{\"amount\":10}"}}`
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answer := r.Header.Get("X-Answer")
		if answer == "fail" {
			http.Error(w, `{"error":{"message":"boom"}}`, http.StatusInternalServerError)
			return
		}
		if strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			delta := `{"role":"assistant","content":"I will answer in prose."}`
			finish := "stop"
			if answer == "call" {
				delta, finish = `{"role":"assistant","content":null,"tool_calls":[`+call+`]}`, "tool_calls"
			}
			fmt.Fprintf(w, "data: {\"id\":\"s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}\n\n", delta)
			fmt.Fprintf(w, "data: {\"id\":\"s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":%q}]}\n\n", finish)
			fmt.Fprint(w, "data: {\"id\":\"s\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":7,\"total_tokens\":16}}\n\ndata: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		msg, finish := `{"role":"assistant","content":"I will answer in prose."}`, "stop"
		if answer == "call" {
			msg, finish = `{"role":"assistant","content":null,"tool_calls":[`+call+`]}`, "tool_calls"
		}
		fmt.Fprintf(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":%s,"finish_reason":%q}],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}`, msg, finish)
	}))
	tb.Cleanup(be.Close)
	return be
}

// An agent's requests through the official SDK: the observation says
// whether the request offered tools and whether the answer called one, and
// the window counts the answers to requests that offered tools and the
// calls among them, which Prometheus exports; requests without tools (or
// with tool_choice "none") and failures stay out of the rate.
func TestProxy_ToolCallRate(t *testing.T) {
	be := toolBackend(t)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec, NoRetry: true})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	transfer := []openai.ChatCompletionToolParam{{Function: shared.FunctionDefinitionParam{
		Name: "transfer_funds", Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"amount": map[string]any{"type": "number"}}},
	}}}
	params := func(tools bool, choice string) openai.ChatCompletionNewParams {
		p := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("pay Bob 10 EUR")}}
		if tools {
			p.Tools = transfer
		}
		if choice != "" {
			p.ToolChoice = openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String(choice)}
		}
		return p
	}
	for _, tc := range []struct {
		name, answer  string
		tools, stream bool
		choice        string
		offered, call bool
	}{
		{name: "Call", answer: "call", tools: true, offered: true, call: true},
		{name: "CallStream", answer: "call", tools: true, stream: true, offered: true, call: true},
		{name: "Prose", answer: "text", tools: true, offered: true},
		{name: "ProseStream", answer: "text", tools: true, stream: true, offered: true},
		{name: "NoTools", answer: "text"},
		{name: "ToolChoiceNone", answer: "text", tools: true, choice: "none"},
		{name: "Failed", answer: "fail", tools: true, offered: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(rec.all())
			hdr := option.WithHeader("X-Answer", tc.answer)
			var err error
			var called bool
			if tc.stream {
				s := client.Chat.Completions.NewStreaming(ctx, params(tc.tools, tc.choice), hdr)
				var acc openai.ChatCompletionAccumulator
				for s.Next() {
					acc.AddChunk(s.Current())
				}
				err = s.Err()
				called = len(acc.Choices) > 0 && len(acc.Choices[0].Message.ToolCalls) > 0
			} else {
				var c *openai.ChatCompletion
				c, err = client.Chat.Completions.New(ctx, params(tc.tools, tc.choice), hdr)
				called = err == nil && len(c.Choices[0].Message.ToolCalls) > 0
			}
			if (err != nil) != (tc.answer == "fail") || called != tc.call {
				t.Fatalf("the client got err %v, tool call %v", err, called)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) > n })
			o := rec.all()[n]
			if o.ToolsOffered != tc.offered || o.ToolCall != tc.call {
				t.Errorf("ToolsOffered %v ToolCall %v, want %v %v (%+v)", o.ToolsOffered, o.ToolCall, tc.offered, tc.call, o)
			}
		})
	}
	// Call and CallStream of the four answered requests that offered tools.
	s := rec.Window("chat", "v1", "", time.Time{})
	if s.ToolAnswers != 4 || s.ToolCalls != 2 {
		t.Errorf("window: %d tool calls of %d answers to tool requests, want 2 of 4", s.ToolCalls, s.ToolAnswers)
	}
	sum := rec.Summary("chat", time.Time{})
	if len(sum) != 1 || sum[0].ToolCallRate != 0.5 || sum[0].ToolAnswers != 4 {
		t.Errorf("summary %+v, want a tool-call rate of 0.5 over 4", sum)
	}
	mfs, err := rec.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_tool_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					got[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if got["call"] != 2 || got["text"] != 2 || len(got) != 2 {
		t.Errorf("sluice_tool_requests_total by result %v, want call 2, text 2", got)
	}
}
