package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: a client with a key limited to model chat (rate
// limited, burst 3) sends a request for another model, then one for chat,
// reading x-ratelimit-remaining-requests as LiteLLM's router does.
// What happened: the 403 said 2 requests remained, as if it had spent one,
// though a 403 spends none (README), and the next request, which did spend
// one, said 2 as well: the header of a refused request counted a request
// that the refusal gave back.
// What should happen: the 403 says what remains after it: all 3.
func TestKeySet_ForbiddenModelHeadersSpendNone(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const key = "sk-scoped-0123456789ab"
	url, _ := keyedProxy(t, be.URL(), map[string]proxy.ClientKey{
		key: {Name: "scoped", Models: []string{"chat"}, RateLimit: 1, Burst: 3},
	})
	send := func(model string) (*http.Response, error) {
		var resp *http.Response
		c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0), option.WithResponseInto(&resp))
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}})
		return resp, err
	}
	resp, err := send("other")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("request for another model: %v, want a 403", err)
	}
	if got := resp.Header.Get("x-ratelimit-remaining-requests"); got != "3" {
		t.Errorf("403: x-ratelimit-remaining-requests = %q, want 3 (a 403 spends none of the burst of 3)", got)
	}
	resp, err = send("chat")
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("x-ratelimit-remaining-requests"); got != "2" {
		t.Errorf("then a request for chat: x-ratelimit-remaining-requests = %q, want 2", got)
	}
}
