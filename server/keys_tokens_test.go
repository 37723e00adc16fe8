package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_ClientKeyTokensPerMinute: a client key's tokens_per_minute in
// sluice.yaml reaches the data plane: the key's streamed answers use up
// its minute, then the OpenAI SDK gets a 429 naming the limit, and the
// key's other calls and another key go on; /metrics counts the 429
// under the key.
func TestGateway_ClientKeyTokensPerMinute(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, map[string]string{"stable": "v1.0.0"})
	const metered, other = "sk-metered-3b9f0c2d71e84a56", "sk-other-9d41e7a02c6b58f3"
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{
			{Name: "metered", Secret: metered, TokensPerMinute: 200},
			{Name: "other", Secret: other},
		}
	}, &syncBuffer{}, doc)
	ctx := context.Background()
	client := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	params := openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}
	// The fast front passes the key's x-ratelimit-* headers on.
	var first *http.Response
	fc := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(metered), option.WithMaxRetries(0), option.WithResponseInto(&first))
	done, err := fc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: params.Messages})
	if err != nil {
		t.Fatal(err)
	}
	if first.Header.Get("X-Ratelimit-Limit-Tokens") != "200" || first.Header.Get("X-Ratelimit-Remaining-Tokens") != "200" {
		t.Errorf("first answer's headers: limit %q remaining %q, want 200 and 200", first.Header.Get("X-Ratelimit-Limit-Tokens"), first.Header.Get("X-Ratelimit-Remaining-Tokens"))
	}
	used := done.Usage.TotalTokens
	for i := 0; i < 200 && err == nil; i++ {
		c := client(metered)
		s := c.Chat.Completions.NewStreaming(ctx, params)
		for s.Next() {
			used += s.Current().Usage.TotalTokens
		}
		err = s.Err()
	}
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || !strings.Contains(apiErr.Message, "200 tokens per minute") {
		t.Fatalf("after %d tokens: %v, want a 429 naming 200 tokens per minute", used, err)
	}
	if used < 200 {
		t.Errorf("refused after %d tokens, under the limit of 200", used)
	}
	mc := client(metered)
	if _, err := mc.Models.List(ctx); err != nil {
		t.Errorf("/v1/models over the token limit: %v", err)
	}
	oc := client(other)
	if _, err := oc.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: params.Messages}); err != nil {
		t.Errorf("another key: %v", err)
	}
	metrics := scrape(t, gw.AdminURL()+"/metrics")
	if !strings.Contains(metrics, `sluice_client_key_requests_total{code="429",key="metered",model=""} 1`) {
		t.Errorf("the 429 is not counted under the key:\n%s", grepLines(metrics, "sluice_client_key_requests_total"))
	}
}
