package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestKeySet_ForbiddenModelType: a key's request for a model outside its
// models is refused as OpenAI refuses a permission (403, type
// "request_forbidden", which the SDKs raise as PermissionDeniedError),
// its message naming the key, the model and what the key may use. It was
// typed authentication_error, which sent people to check a valid key.
func TestKeySet_ForbiddenModelType(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const key = "sk-scoped-0123456789ab"
	url, _ := keyedProxy(t, be.URL(), map[string]proxy.ClientKey{key: {Name: "scoped", Models: []string{"chat"}}})
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "other",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello there")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("request for another model: %v, want a 403", err)
	}
	if apiErr.Type != "request_forbidden" || apiErr.Code != "forbidden" {
		t.Errorf("403 typed %q, code %q; want request_forbidden, forbidden", apiErr.Type, apiErr.Code)
	}
	if m := apiErr.Message; !strings.Contains(m, "scoped") || !strings.Contains(m, `"other"`) || !strings.Contains(m, "chat") {
		t.Errorf("message %q, want the key, the model refused and the models it may use", m)
	}
}
