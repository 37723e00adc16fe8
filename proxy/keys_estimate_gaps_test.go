package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/proxy"
)

// holdingBackend answers each request with the events given (each a
// chunk's JSON, sent as a data: event), then holds the stream open until
// the client (the gateway) leaves, as a busy backend whose next chunk,
// and the usage, come later.
func holdingBackend(t *testing.T, events ...string) string {
	t.Helper()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for _, e := range events {
			io.WriteString(w, "data: "+e+"\n\n")
			fl.Flush()
		}
		<-r.Context().Done()
	}))
	t.Cleanup(be.Close)
	return be.URL
}

// readEventsThenLeave streams a chat answer with openai-go and closes the
// stream after n events, as a client that cuts it.
func readEventsThenLeave(t *testing.T, c openai.Client, n int) {
	t.Helper()
	s := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("think about the river")},
	})
	defer s.Close()
	for i := 0; i < n; i++ {
		if !s.Next() {
			t.Fatalf("the stream ended after %d events: %v", i, s.Err())
		}
	}
}

// TestKeySet_EstimateCutReasoning: a reasoning model's stream (vLLM's and
// DeepSeek's delta.reasoning_content, others' delta.reasoning) that the
// client cuts while the model still thinks, before any content and the
// usage chunk. It was charged nothing (no text was counted, so no
// estimate at all), and an agent that cut every stream at the end of the
// reasoning paid for none of it; now the reasoning text relayed is the
// estimated output.
func TestKeySet_EstimateCutReasoning(t *testing.T) {
	for _, field := range []string{"reasoning_content", "reasoning"} {
		t.Run(field, func(t *testing.T) {
			piece := "Let me think about where the river goes next. " // 47 bytes
			ev := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat","choices":[{"index":0,"delta":{"` + field + `":"` + piece + `"},"finish_reason":null}]}`
			be := holdingBackend(t, ev, ev, ev, ev)
			const secret = "sk-thinker-0123456789"
			log := &spyLog{}
			url := estimateProxy(t, be, map[string]proxy.ClientKey{secret: {Name: "thinker", TokensPerMinute: 1000}}, newSpyRecorder(), log)
			c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
			readEventsThenLeave(t, c, 4)
			o := waitRows(t, log, 1)[0]
			if want := (4*len(piece) + 3) / 4; !o.TokensEstimated || o.OutputTokens != want || o.InputTokens == 0 || o.ErrorClass != "canceled" {
				t.Fatalf("row of the cut reasoning: %d/%d tokens, estimated %v, class %q; want %d out (the %d bytes of reasoning relayed), estimated, canceled",
					o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ErrorClass, want, 4*len(piece))
			}
			if o.ResponseChars != 0 {
				t.Errorf("response chars %d: the reasoning is not the answer's text, which the analysis measures", o.ResponseChars)
			}
		})
	}
}

// TestKeySet_EstimateCutToolCallArguments: a tool call whose arguments
// come in pieces (as vLLM and OpenAI stream them) and whose stream the
// agent closes at the finish_reason, before the usage chunk, is charged
// its arguments' bytes as output, not only its prompt; and so is a whole
// answer calling a tool from a backend that reports no usage.
func TestKeySet_EstimateCutToolCallArguments(t *testing.T) {
	const args = `{"order_id":"A-12345","fields":["status","eta","carrier"]}` // 58 bytes: 15 tokens by the rule
	t.Run("Stream", func(t *testing.T) {
		piece := func(s string) string {
			return `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":` + jsonString(s) + `}}]},"finish_reason":null}]}`
		}
		be := holdingBackend(t,
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup_order","arguments":""}}]},"finish_reason":null}]}`,
			piece(args[:20]), piece(args[20:41]), piece(args[41:]),
			`{"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`)
		const secret = "sk-agent-0123456789"
		log := &spyLog{}
		url := estimateProxy(t, be, map[string]proxy.ClientKey{secret: {Name: "agent", TokensPerMinute: 1000}}, newSpyRecorder(), log)
		c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		readEventsThenLeave(t, c, 5)
		o := waitRows(t, log, 1)[0]
		if !o.ToolCall || !o.TokensEstimated || o.OutputTokens != (len(args)+3)/4 {
			t.Fatalf("row of the cut call: %d/%d tokens, estimated %v, tool call %v; want %d out for its %d bytes of arguments",
				o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ToolCall, (len(args)+3)/4, len(args))
		}
	})
	t.Run("Whole", func(t *testing.T) {
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"chat","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup_order","arguments":`+jsonString(args)+`}}]},"finish_reason":"tool_calls"}]}`)
		}))
		t.Cleanup(be.Close)
		const secret = "sk-agent-0123456789"
		log := &spyLog{}
		url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "agent"}}, newSpyRecorder(), log)
		c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		got, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("where is my order?")},
		})
		if err != nil || len(got.Choices) != 1 || len(got.Choices[0].Message.ToolCalls) != 1 || got.Choices[0].Message.ToolCalls[0].Function.Arguments != args {
			t.Fatalf("answer %+v, error %v: want the call with its arguments", got, err)
		}
		o := waitRows(t, log, 1)[0]
		if !o.TokensEstimated || o.OutputTokens != (len(args)+3)/4 {
			t.Fatalf("row of the call: %d/%d tokens, estimated %v; want %d out for its arguments", o.InputTokens, o.OutputTokens, o.TokensEstimated, (len(args)+3)/4)
		}
	})
}

// jsonString is s as a JSON string (s holds quotes, no other escapes).
func jsonString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// TestKeySet_EstimateAbandoned: a request the client gives up on before
// any of the answer arrives (a whole answer it stops waiting for, a
// stream it leaves before its first token) was charged nothing, though
// the backend had read its prompt: a client could have the backend
// prefill prompts without end, against no limit. Its prompt is now
// charged (the body's bytes over 4; no output, which is not known), so a
// prompt over the key's tokens_per_minute has the next request refused.
func TestKeySet_EstimateAbandoned(t *testing.T) {
	prompt := strings.Repeat("Summarise the river's course for me please. ", 24)[:1000] // 250 tokens by the rule
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "Whole", true: "Stream"}[stream]
		t.Run(name, func(t *testing.T) {
			arrived := make(chan struct{}, 4)
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				arrived <- struct{}{}
				<-r.Context().Done() // still generating when the client leaves
			}))
			t.Cleanup(be.Close)
			const secret = "sk-quitter-0123456789"
			const tpm = 100
			log := &spyLog{}
			url := estimateProxy(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "quitter", TokensPerMinute: tpm}}, newSpyRecorder(), log)
			c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
			params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}}
			call := func(ctx context.Context) error {
				if stream {
					s := c.Chat.Completions.NewStreaming(ctx, params)
					defer s.Close()
					for s.Next() {
					}
					return s.Err()
				}
				_, err := c.Chat.Completions.New(ctx, params)
				return err
			}
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-arrived // the backend has the prompt: the client gives up
				cancel()
			}()
			if err := call(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("abandoned request: %v, want the client's cancellation", err)
			}
			o := waitRows(t, log, 1)[0]
			if o.ErrorClass != "canceled" || !o.TokensEstimated || o.InputTokens < len(prompt)/4 || o.OutputTokens != 0 {
				t.Fatalf("row of the abandoned request: class %q, %d/%d tokens, estimated %v; want canceled, at least %d in estimated, 0 out",
					o.ErrorClass, o.InputTokens, o.OutputTokens, o.TokensEstimated, len(prompt)/4)
			}
			ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel2()
			var apiErr *openai.Error
			if err := call(ctx2); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("next request after %d estimated tokens: %v, want a 429 for the key's %d tokens a minute", o.InputTokens, err, tpm)
			}
		})
	}
}
