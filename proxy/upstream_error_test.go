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

// What the user does: calls the gateway with the official OpenAI Go SDK,
// and the backend refuses the request or fails with an error body that is
// not OpenAI's shape: older vLLM's flat {"object":"error","message":…},
// TGI's {"error":"…"}, FastAPI's {"detail":…}, plain text, or an HTML page
// from a proxy in front of the model server.
// What must happen: the SDK's *openai.Error carries a message that names
// the version and says what the backend said; an error that is
// OpenAI-shaped already passes as it was sent. Before, such bodies passed
// through as they were, and the SDK, which reads the message from "error"
// alone, told the user "400 Bad Request" and nothing more.
func TestUpstreamError_OpenAIShapeForTheSDK(t *testing.T) {
	const shaped = `{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`
	cases := []struct {
		name, ctype, body string
		status            int
		want, wantType    string
	}{
		{"vLLMFlat", "application/json", `{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}`, 400, "max_tokens is too large", "invalid_request_error"},
		{"TGI", "application/json", `{"error":"Input validation error: top_p must be > 0","error_type":"validation"}`, 422, "Input validation error: top_p must be > 0", "invalid_request_error"},
		{"FastAPI", "application/json", `{"detail":"Not authenticated"}`, 401, "Not authenticated", "authentication_error"},
		{"Text", "text/plain; charset=utf-8", "upstream overloaded\n", 503, "upstream overloaded", "api_error"},
		{"HTML", "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", 502, "text/html", "api_error"},
		{"Empty", "", "", 503, "503 Service Unavailable", "api_error"},
		{"Shaped", "application/json", shaped, 400, "This model's maximum context length is 8192 tokens", "invalid_request_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if c.ctype != "" {
					w.Header().Set("Content-Type", c.ctype)
				}
				w.WriteHeader(c.status)
				io.WriteString(w, c.body)
			}))
			t.Cleanup(be.Close)
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, "")})
			client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
			var ae *openai.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want an *openai.Error", err)
			}
			if ae.StatusCode != c.status || !strings.Contains(ae.Message, c.want) || ae.Type != c.wantType {
				t.Fatalf("status %d, type %q, message %q; want status %d, type %q, a message with %q", ae.StatusCode, ae.Type, ae.Message, c.status, c.wantType, c.want)
			}
			if c.name != "Shaped" && !strings.Contains(ae.Message, "chat:v1") {
				t.Errorf("message %q does not name the version that failed", ae.Message)
			}
			if c.name == "Shaped" {
				resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[]}`)
				if body != shaped || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("an OpenAI-shaped error became %q (%s), want it as the backend sent it", body, resp.Header.Get("Content-Type"))
				}
			}
		})
	}
}
