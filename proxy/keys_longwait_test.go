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

// What the user does: a key with tokens_per_minute: 600 gets one large
// answer (3,000 tokens), so it is about 4 minutes over its limit; its
// application, on the OpenAI SDK with the default retries, sends again.
// What happened: the 429 carried Retry-After 240 (and Retry-After-Ms); the
// SDKs follow those only up to 60 s and otherwise retry on their own
// short backoff, so each call made 3 requests in about a second, all
// refused, before failing. A spent token budget's 429 already says
// X-Should-Retry: false when its wait is over a minute.
// What should happen: a rate or token limit's 429 whose wait is over a
// minute says X-Should-Retry: false too, and the SDK fails at once, with
// the wait in the message and headers.
func TestKeySet_LongWaitNotRetried(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const key = "sk-metered-0123456789"
	var arrived atomic.Int64
	url, _ := keyedProxy(t, be.URL(), map[string]proxy.ClientKey{key: {Name: "metered", TokensPerMinute: 600}})
	counted := func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		arrived.Add(1)
		return next(req)
	}
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(2), option.WithMiddleware(counted))
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}}
	if _, err := c.Chat.Completions.New(context.Background(), params, option.WithHeader(fakellm.HeaderTokens, "3000")); err != nil {
		t.Fatal(err)
	}
	arrived.Store(0)
	start := time.Now()
	_, err := c.Chat.Completions.New(context.Background(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("after a 3,000-token answer on 600 a minute: %v, want a 429", err)
	}
	if got := apiErr.Response.Header.Get("X-Should-Retry"); got != "false" {
		t.Errorf("X-Should-Retry = %q, want false (Retry-After %s s, beyond what the SDKs wait for)", got, apiErr.Response.Header.Get("Retry-After"))
	}
	if n := arrived.Load(); n != 1 {
		t.Errorf("the SDK sent %d requests in %s for one call, want 1: its retries cannot succeed within its backoff", n, time.Since(start).Round(time.Millisecond))
	}
}
