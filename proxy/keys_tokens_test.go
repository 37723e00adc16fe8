package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// keyedProxy serves a proxy in front of backend behind a KeySet of keys
// (secret → key, Hash filled in) on a clock that starts at 2026-12-06
// 09:00 UTC and that advance moves, and returns its URL.
func keyedProxy(t *testing.T, backend string, keys map[string]proxy.ClientKey) (url string, advance func(time.Duration)) {
	t.Helper()
	url, _, _, _, advance = budgetProxy(t, backend, keys)
	return url, advance
}

// TestKeySet_TokensPerMinute: a key's tokens_per_minute limits the tokens
// its answers use (prompt and answer, from the backends' usage), as
// OpenAI's own TPM limits do. The answers' tokens are charged as they
// finish, whole and streamed; once the key has used a minute's worth, its
// next inference request gets a 429 with Retry-After and Retry-After-Ms
// before anything reaches a backend, naming the limit; the limit refills
// at its rate; another key and a key without the limit are not held back,
// nor are the key's requests that use no tokens (/v1/models).
func TestKeySet_TokensPerMinute(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const metered, free = "sk-metered-0123456789", "sk-free-0123456789abc"
	const tpm = 600 // 10 tokens a second
	url, advance := keyedProxy(t, be.URL(), map[string]proxy.ClientKey{
		metered: {Name: "metered", TokensPerMinute: tpm},
		free:    {Name: "free"},
	})
	ctx := context.Background()
	client := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}}
	// chat sends a request whole or streamed and returns the tokens its
	// answer used, or the API error.
	chat := func(key string, stream bool) (int64, error) {
		c := client(key)
		if !stream {
			r, err := c.Chat.Completions.New(ctx, params)
			if err != nil {
				return 0, err
			}
			return r.Usage.TotalTokens, nil
		}
		sp := params
		sp.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := c.Chat.Completions.NewStreaming(ctx, sp)
		var used int64
		for s.Next() {
			if u := s.Current().Usage; u.TotalTokens > 0 {
				used = u.TotalTokens
			}
		}
		return used, s.Err()
	}

	// The key uses tokens until its minute's worth is spent: every request
	// before that passes, whole and streamed alike.
	var used int64
	var passed int
	for i := 0; used < tpm; i++ {
		if i > 1000 {
			t.Fatalf("%d tokens used in %d requests and still not refused", used, i)
		}
		n, err := chat(metered, i%2 == 1)
		if err != nil {
			t.Fatalf("request %d, after %d tokens of %d: %v", i, used, tpm, err)
		}
		if n <= 0 {
			t.Fatalf("request %d: the backend reported no usage", i)
		}
		used += n
		passed++
	}
	if passed < 3 {
		t.Fatalf("the limit was spent in %d requests (%d tokens); the test needs answers smaller than the limit", passed, used)
	}
	// Over the limit: a 429 naming it, with the wait until the key is
	// back under it, for both kinds of request.
	for _, stream := range []bool{false, true} {
		_, err := chat(metered, stream)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
			t.Fatalf("stream %v, after %d tokens of %d a minute: %v, want a 429", stream, used, tpm, err)
		}
		if !strings.Contains(apiErr.Message, "600 tokens per minute") || !strings.Contains(apiErr.Message, "metered") {
			t.Errorf("429 message %q, want the key and its limit named", apiErr.Message)
		}
		ra, _ := strconv.Atoi(apiErr.Response.Header.Get("Retry-After"))
		ms, _ := strconv.Atoi(apiErr.Response.Header.Get("Retry-After-Ms"))
		// The key is (used - tpm) tokens over, at 10 a second.
		want := time.Duration(used-tpm) * time.Second / 10
		if ra < 1 || ms <= 0 || time.Duration(ms)*time.Millisecond < want || time.Duration(ms)*time.Millisecond > want+time.Millisecond {
			t.Errorf("Retry-After %d, Retry-After-Ms %d; want the wait of %s", ra, ms, want)
		}
	}
	// Requests that use no tokens still pass.
	mc := client(metered)
	if _, err := mc.Models.List(ctx); err != nil {
		t.Errorf("/v1/models with the key over its token limit: %v", err)
	}
	// Another key is not held back.
	if _, err := chat(free, false); err != nil {
		t.Errorf("a key without a token limit: %v", err)
	}
	// The refused requests were not charged: once the key is back under
	// its limit, it passes again.
	advance(time.Duration(used-tpm)*time.Second/10 + time.Millisecond)
	if _, err := chat(metered, false); err != nil {
		t.Errorf("after waiting the Retry-After: %v", err)
	}
}

// TestKeySet_TokensCarried: reloading the keys keeps a key's token usage
// when its secret and limit are unchanged, as its request bucket is kept:
// a reload must not give every key a fresh minute. A changed limit keeps
// the tokens used too: raised well above them, the key passes; lowered,
// it is still held back (no fresh minute).
func TestKeySet_TokensCarried(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const key = "sk-metered-0123456789"
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	keys := []proxy.ClientKey{{Name: "metered", Hash: sluice.HashSecret(key), TokensPerMinute: 20}}
	old, err := proxy.NewKeySet(keys, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL(), "")})
	srv := httptest.NewServer(old.Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close() })
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}}
	for i := 0; ; i++ {
		if _, err := c.Chat.Completions.New(context.Background(), params); err != nil {
			break
		}
		if i > 100 {
			t.Fatal("a 20-token limit never refused")
		}
	}
	for name, tc := range map[string]struct {
		tpm  int64
		want int
	}{"Same": {20, 429}, "Raised": {1000, 200}, "Lowered": {10, 429}} {
		ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "metered", Hash: sluice.HashSecret(key), TokensPerMinute: tc.tpm}}, nil, clock)
		if err != nil {
			t.Fatal(err)
		}
		ks.Carry(old)
		srv2 := httptest.NewServer(ks.Wrap(p))
		c2 := openai.NewClient(option.WithBaseURL(srv2.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
		_, err = c2.Chat.Completions.New(context.Background(), params)
		got := 200
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			got = apiErr.StatusCode
		} else if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s limit after a reload: %d, want %d", name, got, tc.want)
		}
		srv2.Close()
	}

	// Lowered far, to 1 a minute: the 20-odd tokens the key used are 20-odd
	// minutes at the new price; it waits for one token to come back (a
	// minute), as a request bucket capped at its burst waits for one
	// request, not for those 20 minutes (it did, before the cap).
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "metered", Hash: sluice.HashSecret(key), TokensPerMinute: 1}}, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	ks.Carry(old)
	srv3 := httptest.NewServer(ks.Wrap(p))
	defer srv3.Close()
	c3 := openai.NewClient(option.WithBaseURL(srv3.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	var apiErr *openai.Error
	if _, err := c3.Chat.Completions.New(context.Background(), params); !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("lowered to 1 token a minute, at once: %v, want 429", err)
	}
	now = now.Add(61 * time.Second)
	if _, err := c3.Chat.Completions.New(context.Background(), params); err != nil {
		t.Errorf("lowered to 1 token a minute, a minute later: %v, want it served (the tokens used under the old limit are not hours at the new one)", err)
	}
}

// TestKeySet_TokenRefusalSpendsNoRequest: a request refused for the key's
// token limit spends none of its rate limit, as a 403 spends none: a
// client that waits the token 429's Retry-After is then served, not sent
// a second 429 (rate_limited) that its own refused request caused.
func TestKeySet_TokenRefusalSpendsNoRequest(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"chat.completion","created":1,"model":"up-v1","choices":[{"index":0,"message":{"role":"assistant","content":"Hi."},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}`)
	}))
	t.Cleanup(be.Close)
	const key = "sk-metered-0123456789"
	// One request every 100 s (burst 1); 3 tokens a minute, so an answer's
	// 10 tokens cost 200 s of the key's token bucket.
	url, advance := keyedProxy(t, be.URL, map[string]proxy.ClientKey{key: {Name: "metered", RateLimit: 0.01, TokensPerMinute: 3}})
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	status := func() (int, time.Duration, string) {
		t.Helper()
		_, err := c.Chat.Completions.New(context.Background(), params)
		var apiErr *openai.Error
		if err == nil {
			return 200, 0, ""
		}
		if !errors.As(err, &apiErr) {
			t.Fatal(err)
		}
		ms, _ := strconv.Atoi(apiErr.Response.Header.Get("Retry-After-Ms"))
		return apiErr.StatusCode, time.Duration(ms) * time.Millisecond, apiErr.Message
	}
	if got, _, msg := status(); got != 200 {
		t.Fatalf("first request: %d %s", got, msg)
	}
	// 100 s on, the request bucket holds a request again, but the key is
	// 40 s over its token limit (200 s charged, 100 s passed, a minute
	// allowed).
	advance(100 * time.Second)
	got, wait, msg := status()
	if got != 429 || !strings.Contains(msg, "token limit") || wait != 40*time.Second {
		t.Fatalf("over the token limit: %d, Retry-After-Ms %s, %q; want a 429 for the token limit, 40s", got, wait, msg)
	}
	advance(wait)
	if got, wait, msg := status(); got != 200 {
		t.Errorf("after the token 429's Retry-After: %d (Retry-After-Ms %s) %q, want the request served: the refused request spent the key's rate limit", got, wait, msg)
	}
}
