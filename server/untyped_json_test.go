package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// TestFront_UntypedJSONAnswerIsJSON: a backend that answers a chat
// completion without a Content-Type (a hand-written server, a proxy that
// strips it) reached clients as net/http sniffs it, "text/plain;
// charset=utf-8", and the OpenAI SDKs take a text/plain answer for text:
// openai-go refused it, the Node SDK returned a string. The proxy reads
// such an answer as JSON (its usage, its text) before it relays it whole,
// so it now says so: application/json, on both fronts. An untyped answer
// that is not JSON gets no type (none is guessed for the backend): one to
// an endpoint whose answers are not text (speech), which passes on as it
// came; one to a whole chat completion, or to a streamed one (no event
// stream: a proxy's page), is no answer at all, a 502 (upstream_invalid)
// in the OpenAI shape.
func TestFront_UntypedJSONAnswerIsJSON(t *testing.T) {
	body := `{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`
	backend := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = nil // no Content-Type, and no sniffing here
		if r.Header.Get("X-Plain") != "" {
			io.WriteString(w, "not json at all")
			return
		}
		io.WriteString(w, "\n  "+body)
	})
	servers(t, backend, func(t *testing.T, srv, addr string) {
		c := openai.NewClient(option.WithBaseURL("http://"+addr+"/v1/"), option.WithAPIKey("x"), option.WithMaxRetries(0))
		got, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
		if err != nil {
			t.Fatalf("%s: the SDK refused an untyped JSON answer: %v", srv, err)
		}
		if got.Choices[0].Message.Content != "hi" || got.Usage.TotalTokens != 4 {
			t.Errorf("%s: %+v", srv, got)
		}
		plain := func(body string, path ...string) (*http.Response, string) {
			url := "http://" + addr + "/v1/chat/completions"
			if len(path) > 0 {
				url = "http://" + addr + path[0]
			}
			req, _ := http.NewRequest(http.MethodPost, url, nil)
			req.Body = io.NopCloser(strings.NewReader(body))
			req.Header.Set("X-Plain", "1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, string(b)
		}
		resp, b := plain(`{"model":"chat","input":"hi","voice":"alloy"}`, "/v1/audio/speech")
		if ct := resp.Header.Values("Content-Type"); resp.StatusCode != http.StatusOK || len(ct) != 0 || b != "not json at all" {
			t.Errorf("%s: an untyped speech answer got status %d, Content-Type %q, body %q, want a 200, none and the body as sent (%v)", srv, resp.StatusCode, ct, b, resp.Header)
		}
		for _, req := range []string{`{"model":"chat","messages":[]}`, `{"model":"chat","stream":true,"messages":[]}`} {
			resp, b = plain(req)
			if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(b, `"code":"upstream_error"`) {
				t.Errorf("%s: an answer to %s that is not JSON: status %d, Content-Type %q, body %q, want a 502 upstream_error", srv, req, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
		}
	})
}
