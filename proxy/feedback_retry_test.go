package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_FeedbackConflictNotRetried: a second score for an answer is a
// 409 that stays one, so the OpenAI SDKs, which retry a 409 twice on their
// own (openai-go and the Node SDK alike, half a second and a second apart),
// must be told not to: the app's POST through the SDK's client
// (client.post('/feedback') in Node, client.Post in Go) took three requests
// and 1.3 s to learn what the first said.
func TestProxy_FeedbackConflictNotRetried(t *testing.T) {
	backend := MustBackend(t, fakellm.Config{})
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL(), backend.URL()), Recorder: newSpyRecorder()})
	var feedbackPosts atomic.Int32
	count := func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		if req.URL.Path == "/v1/feedback" {
			feedbackPosts.Add(1)
		}
		return next(req)
	}
	// The SDK's own retry policy, as an app has it: two retries.
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMiddleware(count))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var hr *http.Response
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	}, option.WithResponseInto(&hr)); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"request_id": hr.Header.Get("X-Request-Id"), "thumbs": "up"}
	var got map[string]any
	if err := client.Post(ctx, "feedback", body, &got); err != nil || got["accepted"] != true {
		t.Fatalf("first feedback: %v %v", got, err)
	}
	feedbackPosts.Store(0)
	start := time.Now()
	err := client.Post(ctx, "feedback", body, &got)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusConflict {
		t.Fatalf("second feedback: %v, want a 409", err)
	}
	if n := feedbackPosts.Load(); n != 1 {
		t.Fatalf("the second feedback was sent %d times in %v, want once: a 409 for an answer that has its score is final (X-Should-Retry: false)", n, time.Since(start).Round(time.Millisecond))
	}
	if h := apiErr.Response.Header.Get("X-Should-Retry"); h != "false" {
		t.Fatalf("X-Should-Retry = %q, want false", h)
	}
}
