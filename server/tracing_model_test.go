package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// modelBackend answers chat (whole and streamed), the Responses API (whole
// and streamed) and embeddings naming a model of its own ("served-…"), as
// vLLM names the model it served whatever alias it was asked for; a
// request with X-Omit-Model gets an answer that names none.
func modelBackend(t *testing.T) *traceBackend {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return // a health check
		}
		body, _ := io.ReadAll(r.Body)
		stream := strings.Contains(string(body), `"stream":true`)
		model := func(name string) string {
			if r.Header.Get("X-Omit-Model") != "" {
				return ""
			}
			return `"model":"` + name + `",`
		}
		switch {
		case r.URL.Path == "/v1/embeddings":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"object":"list",%s"data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"usage":{"prompt_tokens":2,"total_tokens":2}}`, model("served-embed"))
		case r.URL.Path == "/v1/responses" && stream:
			w.Header().Set("Content-Type", "text/event-stream")
			resp := func(status, name string) string {
				return `{"id":"resp_s","object":"response","created_at":1,` + model(name) + `"status":"` + status + `","output":[{"type":"message","id":"m1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Hi.","annotations":[]}]}],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}`
			}
			fmt.Fprintf(w, "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":%s}\n\n", resp("in_progress", "served-resp-stream"))
			fmt.Fprint(w, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"m1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi.\"}\n\n")
			fmt.Fprintf(w, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":2,\"response\":%s}\n\n", resp("completed", "served-resp-stream"))
		case r.URL.Path == "/v1/responses":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"resp_w","object":"response","created_at":1,%s"status":"completed","output":[{"type":"message","id":"m1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Hi.","annotations":[]}]}],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}`, model("served-resp"))
		case stream:
			// The first chunk names no model; the first that does is
			// the answer's.
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"},\"finish_reason\":null}]}\n\n")
			fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,%s\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n", model("served-stream"))
			fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,%s\"choices\":[{\"index\":0,\"delta\":{\"content\":\".\"},\"finish_reason\":\"stop\"}]}\n\n", model("not-the-first"))
			fmt.Fprint(w, "data: [DONE]\n\n")
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":"c","object":"chat.completion","created":1,%s"choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`, model("served-chat"))
		}
	}))
	t.Cleanup(srv.Close)
	return &traceBackend{url: srv.URL}
}

// TestGateway_TracingResponseModel: gen_ai.response.model, on the SERVER
// span and the attempt's CLIENT span, is the model the backend's answer
// names (a whole answer's, a stream's first chunk that names one, a
// Responses answer's, an embedding's), and the model the backend was
// asked for when its answer names none; over the real SDK on both fronts.
func TestGateway_TracingResponseModel(t *testing.T) {
	ctx := context.Background()
	b := modelBackend(t)
	sink, sinkURL := newOTLPSink(t)
	url := tracedGateway(t, sinkURL, b, nil)
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	input := responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")}
	for _, tc := range []struct {
		name, want string
		omit       bool
		call       func(c openai.Client) error
	}{
		{"Chat", "served-chat", false, func(c openai.Client) error {
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: msgs})
			return err
		}},
		{"ChatStream", "served-stream", false, func(c openai.Client) error {
			st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: msgs})
			for st.Next() {
			}
			return st.Err()
		}},
		{"Responses", "served-resp", false, func(c openai.Client) error {
			_, err := c.Responses.New(ctx, responses.ResponseNewParams{Model: "chat", Input: input})
			return err
		}},
		{"ResponsesStream", "served-resp-stream", false, func(c openai.Client) error {
			st := c.Responses.NewStreaming(ctx, responses.ResponseNewParams{Model: "chat", Input: input})
			for st.Next() {
			}
			return st.Err()
		}},
		{"Embeddings", "served-embed", false, func(c openai.Client) error {
			_, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "chat", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
			return err
		}},
		{"ChatNoModel", "up-v1.1.0", true, func(c openai.Client) error {
			_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: msgs})
			return err
		}},
		{"ChatStreamNoModel", "up-v1.1.0", true, func(c openai.Client) error {
			st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: msgs})
			for st.Next() {
			}
			return st.Err()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tid, sid := newTraceIDs(t)
			opts := []option.RequestOption{option.WithBaseURL(url + "/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0),
				option.WithHeader("Traceparent", "00-"+tid+"-"+sid+"-01")}
			if tc.omit {
				opts = append(opts, option.WithHeader("X-Omit-Model", "1"))
			}
			if err := tc.call(openai.NewClient(opts...)); err != nil {
				t.Fatal(err)
			}
			spans := sink.trace(t, tid, 2)
			for _, k := range []tracepb.Span_SpanKind{tracepb.Span_SPAN_KIND_SERVER, tracepb.Span_SPAN_KIND_CLIENT} {
				sp := bySpanKind(spans, k)
				if len(sp) != 1 {
					t.Fatalf("%d spans of kind %v, want 1", len(sp), k)
				}
				a := attrs(sp[0])
				if a["gen_ai.response.model"] != tc.want {
					t.Errorf("%s span: gen_ai.response.model %q, want %q", k, a["gen_ai.response.model"], tc.want)
				}
				if k == tracepb.Span_SPAN_KIND_CLIENT && a["gen_ai.request.model"] != "up-v1.1.0" {
					t.Errorf("client span: gen_ai.request.model %q, want the model the backend was asked for", a["gen_ai.request.model"])
				}
			}
		})
	}
}
