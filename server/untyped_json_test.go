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
// a streamed request, which passes on as it came; one to a whole chat
// completion is no answer at all, a 502 (upstream_invalid) in the OpenAI
// shape.
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
		plain := func(body string) (*http.Response, string) {
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", nil)
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
		resp, b := plain(`{"model":"chat","stream":true,"messages":[]}`)
		if ct := resp.Header.Values("Content-Type"); len(ct) != 0 || b != "not json at all" {
			t.Errorf("%s: an untyped answer that is not JSON got Content-Type %q, body %q, want none and the body as sent", srv, ct, b)
		}
		resp, b = plain(`{"model":"chat","messages":[]}`)
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(b, `"code":"upstream_error"`) {
			t.Errorf("%s: a whole chat answer that is not JSON: status %d, Content-Type %q, body %q, want a 502 upstream_error", srv, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	})
}
