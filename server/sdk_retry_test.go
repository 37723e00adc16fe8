package server_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// attempts is an openai-go middleware that remembers every HTTP attempt
// the SDK makes (its retries included) with the answer's status and the
// headers the SDK's retry decision reads.
type attempts struct {
	mu   sync.Mutex
	seen []attempt
}

type attempt struct {
	status                             int
	shouldRetry, retryAfter, retryAfMs string
}

func (a *attempts) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if err == nil {
		a.mu.Lock()
		a.seen = append(a.seen, attempt{resp.StatusCode, resp.Header.Get("X-Should-Retry"), resp.Header.Get("Retry-After"), resp.Header.Get("Retry-After-Ms")})
		a.mu.Unlock()
	}
	return resp, err
}

func (a *attempts) all() []attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]attempt(nil), a.seen...)
}

// TestGateway_SDKRetryHints: what the OpenAI SDKs' automatic retries do
// with the gateway's own errors, through openai-go with its default of two
// retries (the Node and Python SDKs decide the same way, from the same
// headers). A model out of service (policy off) is one attempt, not three
// over a second and a half: its 503 says X-Should-Retry: false. A key over
// its rate limit is told the wait to the millisecond (Retry-After-Ms, which
// the SDKs read before Retry-After's whole seconds), and the SDK's retry
// gets the answer.
func TestGateway_SDKRetryHints(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	doc.Models = append(doc.Models, sluice.ApplyModel{Name: "embed", Versions: []sluice.Version{{Version: "v1", Endpoints: []string{b.URL()}, Stage: sluice.StageProduction}}})
	const key = "sk-sdk-retry-5e0c9a71d2b84f36"
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		// 4 requests a second, burst 1: a token every 250 ms.
		c.ClientKeys = []config.ClientKey{{Name: "app", Secret: key, RateLimit: 4, Burst: 1}}
	}, nil, doc)
	ctx := context.Background()
	if _, err := gw.Control.Do(ctx, "sre", "incident 42", func(e *sluice.Edit) error {
		return e.SetPolicy("embed", sluice.Policy{Kind: sluice.PolicyOff})
	}); err != nil {
		t.Fatal(err)
	}
	client := func(a *attempts, retries int) openai.Client {
		return openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(retries), option.WithMiddleware(a.middleware))
	}

	t.Run("PolicyOff", func(t *testing.T) {
		a := &attempts{}
		cl := client(a, 2)
		_, err := cl.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "embed", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hi")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
			t.Fatalf("embed under policy off: %v, want a 503", err)
		}
		if got := a.all(); len(got) != 1 || got[0].shouldRetry != "false" {
			t.Errorf("the SDK made %d attempts %+v; want 1, its 503 saying X-Should-Retry: false", len(got), got)
		}
	})

	t.Run("RateLimit", func(t *testing.T) {
		// Without retries, send until the key is over its limit (the
		// second request, unless the machine took 250 ms between them).
		a := &attempts{}
		cl := client(a, 0)
		msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
		var limited *attempt
		for i := 0; i < 10 && limited == nil; i++ {
			_, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: msgs})
			var apiErr *openai.Error
			if errors.As(err, &apiErr) && apiErr.StatusCode == 429 {
				got := a.all()
				limited = &got[len(got)-1]
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if limited == nil {
			t.Fatal("10 requests at once never went over 4 a second")
		}
		ms, err := strconv.Atoi(limited.retryAfMs)
		if err != nil || ms < 1 || ms > 250 || limited.retryAfter != "1" {
			t.Errorf("429: Retry-After-Ms %q, Retry-After %q; want 1 to 250 ms, and 1 s", limited.retryAfMs, limited.retryAfter)
		}
		// With the SDK's retries, a request over the limit gets its
		// answer: the retry waits for the next token.
		a = &attempts{}
		cl = client(a, 2)
		for i := 0; i < 3; i++ {
			if _, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: msgs}); err != nil {
				t.Fatalf("request %d with retries: %v (attempts %+v)", i, err, a.all())
			}
		}
	})
}
