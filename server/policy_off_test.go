package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_PolicyOff: an SDK client asking for a model taken out of
// service gets 503 with the reason in the OpenAI error shape; a pinned
// request still reaches its version.
func TestGateway_PolicyOff(t *testing.T) {
	b := MustBackend(t, fakellm.Config{Model: "up-v1.0.0"})
	gw, _ := MustGateway(t, "", chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	ctx := context.Background()
	if _, err := gw.Control.Do(ctx, "sre", "incident 42", func(e *sluice.Edit) error {
		return e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicyOff})
	}); err != nil {
		t.Fatal(err)
	}
	cl := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}
	_, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: msgs})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || !strings.Contains(apiErr.Message, "model chat is out of service") {
		t.Fatalf("bare name under policy off: %v", err)
	}
	if _, err := cl.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat:v1.0.0", Messages: msgs}); err != nil {
		t.Fatalf("pinned request under policy off: %v", err)
	}
}
