package proxy_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestKeySet_RateLimitHeaders: an answer to a key with limits carries
// OpenAI's x-ratelimit-* headers, which clients and routers (LiteLLM's
// among them) read to slow down before they are refused: the requests a
// full bucket allows (the burst) and the tokens a minute, what is left of
// each after this request, and the time until each is full again. A key
// without limits gets none, as before.
func TestKeySet_RateLimitHeaders(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const limited, open = "sk-limited-0123456789", "sk-open-0123456789ab"
	url, advance := keyedProxy(t, be.URL(), map[string]proxy.ClientKey{
		limited: {Name: "limited", RateLimit: 10, Burst: 5, TokensPerMinute: 600},
		open:    {Name: "open"},
	})
	chat := func(key string) (*http.Response, int64) {
		t.Helper()
		var resp *http.Response
		c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0), option.WithResponseInto(&resp))
		got, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}})
		if err != nil {
			t.Fatal(err)
		}
		return resp, got.Usage.TotalTokens
	}
	check := func(step string, resp *http.Response, want map[string]string) {
		t.Helper()
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", step, k, got, v)
			}
		}
	}
	resp, used := chat(limited)
	check("first request", resp, map[string]string{
		"x-ratelimit-limit-requests":     "5",
		"x-ratelimit-remaining-requests": "4",
		"x-ratelimit-reset-requests":     "100ms", // one request's worth to refill, at 10 a second
		"x-ratelimit-limit-tokens":       "600",
		"x-ratelimit-remaining-tokens":   "600", // its own tokens are known only once it ends
		"x-ratelimit-reset-tokens":       "0s",
	})
	advance(50 * time.Millisecond)
	resp, _ = chat(limited)
	// 50 ms later: half a request refilled (floor), the first answer's
	// tokens charged, refilling at 10 a second.
	refill := time.Duration(used)*100*time.Millisecond - 50*time.Millisecond
	check("second request", resp, map[string]string{
		"x-ratelimit-remaining-requests": "3",
		"x-ratelimit-reset-requests":     "150ms",
		"x-ratelimit-remaining-tokens":   strconv.FormatInt(600-used, 10),
		"x-ratelimit-reset-tokens":       refill.String(),
	})
	resp, _ = chat(open)
	for _, k := range []string{"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens"} {
		if v := resp.Header.Get(k); v != "" {
			t.Errorf("a key without limits got %s: %q", k, v)
		}
	}
}
