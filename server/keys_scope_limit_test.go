package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_ClientKeyForbiddenModelSpendsNoToken: a key limited to some
// models and rate limited spends no rate-limit token on a request for a
// model outside its scope (a client that mistyped a model was then rate
// limited for its real traffic), while a request refused before its model
// is known (a body that is no JSON) still spends one. Through a gateway,
// with openai-go.
func TestGateway_ClientKeyForbiddenModelSpendsNoToken(t *testing.T) {
	const scoped = "sk-scoped-7e1a94c0b25d38f6"   // chat only, burst 2
	const scoped1 = "sk-scoped1-0c83d5f17a29e4b6" // chat only, burst 1
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		// One token every 1000 s: the test never sees a bucket refill.
		c.ClientKeys = []config.ClientKey{
			{Name: "scoped", Secret: scoped, Models: []string{"chat"}, RateLimit: 0.001, Burst: 2},
			{Name: "scoped1", Secret: scoped1, Models: []string{"chat"}, RateLimit: 0.001, Burst: 1},
		}
	}, nil, doc)
	ctx := context.Background()
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(scoped), option.WithMaxRetries(0))
	ask := func(model string) error {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		return err
	}
	status := func(err error) int {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode
		}
		return 0
	}
	for i := 0; i < 5; i++ {
		if err := ask("chta"); status(err) != 403 || !strings.Contains(err.Error(), "may use chat") {
			t.Fatalf("mistyped model, request %d: %v, want a 403 naming the allowed models", i, err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := ask("chat"); err != nil {
			t.Fatalf("request %d of the burst of 2 after five 403s: %v, want an answer (the 403s spent no token)", i, err)
		}
	}
	if err := ask("chat"); status(err) != 429 {
		t.Fatalf("third request: %v, want a 429 (the burst is spent)", err)
	}

	// A body that is no JSON is refused before its model is known, and
	// still spends the key's token.
	resp, e := postRead(t, nil, gw.URL(), `{"model":`, map[string]string{"Authorization": "Bearer " + scoped1})
	if resp.StatusCode != 400 {
		t.Fatalf("broken body: %d %+v, want 400", resp.StatusCode, e.Error)
	}
	resp, e = postRead(t, nil, gw.URL(), `{"model":"chat","messages":[]}`, map[string]string{"Authorization": "Bearer " + scoped1})
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after a broken body spent the burst of 1: %d %+v, want a 429 with Retry-After", resp.StatusCode, e.Error)
	}
	// Refused before the body is read, as README says of a key's 429.
	if resp.Header.Get("X-Request-Id") != "" {
		t.Errorf("429 with X-Request-Id %q: want none", resp.Header.Get("X-Request-Id"))
	}
}
