package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_ViewerTokenOnTheDataPlane: with client keys, an operator or
// admin token passes on the data plane as a key, a viewer token does not.
// A viewer token was answered 401 "the API key is not known (check for a
// typo, or ask ... whether it was revoked)", sending its holder after a
// typo in a token that works on the admin API. Now it is a 403 saying it
// is an admin token whose role cannot call models and which roles (or a
// client key) can, never its secret.
func TestGateway_ViewerTokenOnTheDataPlane(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "app", Secret: appKey}}
	}, nil, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	ctx := context.Background()
	viewer, err := gw.CreateToken(ctx, "dash-reader", sluice.RoleViewer, "test", "reads the dashboard")
	if err != nil {
		t.Fatal(err)
	}
	client := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(viewer), option.WithMaxRetries(0))
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
		t.Fatalf("a viewer token on the data plane: %v, want a 403", err)
	}
	for _, want := range []string{"admin token dash-reader", "role viewer", "cannot call models", "client key", "operator or admin token"} {
		if !strings.Contains(apiErr.Message, want) {
			t.Errorf("the 403 says %q; want it to say %q", apiErr.Message, want)
		}
	}
	if strings.Contains(apiErr.RawJSON(), viewer) || strings.Contains(apiErr.Message, "not known") {
		t.Errorf("the 403: %s", apiErr.RawJSON())
	}
	// Other paths of the data plane say the same.
	if _, err := client.Models.List(ctx); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || !strings.Contains(apiErr.Message, "role viewer") {
		t.Errorf("GET /v1/models with a viewer token: %v, want the same 403", err)
	}
	// Counted as what it is, not as an unknown key.
	metrics := scrape(t, gw.AdminURL()+"/metrics")
	if want := `sluice_client_key_refused_total{reason="viewer_token"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics does not count the two refusals as %s:\n%s", want, grepLines(metrics, "sluice_client_key_refused_total"))
	}
}
