package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_AzureDeployment: an endpoint written as an Azure OpenAI
// deployment (https://RES.openai.azure.com/openai/deployments/NAME?api-version=…)
// is sent the API's paths as Azure serves them, under the deployment and
// without /v1 (…/deployments/NAME/chat/completions?api-version=…), whole,
// streamed and embeddings, on the gateway's own client and net/http's
// alike. Before, every request went to …/deployments/NAME/v1/chat/completions,
// which Azure answers with a 404.
func TestGateway_AzureDeployment(t *testing.T) {
	const prefix = "/openai/deployments/gpt4o"
	azure := newAzureResource(t, prefix)
	endpoint := azure.URL + prefix + "?api-version=" + azureVersion
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:     "chat",
		Policy:   &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{endpoint}, Stage: sluice.StageProduction}},
	}}}
	backends := []config.Backend{{Match: azure.URL + "/openai/deployments", Headers: map[string]string{"api-key": "azure-secret-key"}}}
	for _, stack := range []string{"", "net/http"} {
		t.Run("Server="+stack, func(t *testing.T) {
			azure.reset()
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
				c.Backends = backends
				if stack != "" {
					c.HTTPServer = stack
				}
			}, nil, doc)
			ctx := context.Background()
			client := openaiClient(gw.URL())
			chat, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
			})
			if err != nil || len(chat.Choices) == 0 {
				t.Fatalf("chat: %v (%+v)", err, chat)
			}
			stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:    "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
			})
			chunks := 0
			for stream.Next() {
				chunks++
			}
			if err := stream.Err(); err != nil || chunks == 0 {
				t.Fatalf("stream: %v after %d chunks", err, chunks)
			}
			emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
				Model: "chat",
				Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
			})
			if err != nil || len(emb.Data) == 0 {
				t.Fatalf("embeddings: %v", err)
			}
			served, _, refused := azure.seen()
			want := map[string]bool{"chat/completions": false, "embeddings": false}
			for _, p := range served {
				want[p] = true
			}
			for p, ok := range want {
				if !ok {
					t.Errorf("the deployment served no %s (served %q)", p, served)
				}
			}
			for _, r := range refused {
				t.Errorf("the deployment was sent %s", r)
			}
		})
	}
}

// azureResource is a fake Azure OpenAI resource with one deployment under
// prefix (/openai/deployments/NAME), a fakellm behind it. Like Azure it
// asks every request for api-version=azureVersion and the api-key
// azure-secret-key, serves the API's POSTs under the deployment without
// their /v1, and answers GET /openai/models (the health checks'); any
// other request is a 404.
type azureResource struct {
	*httptest.Server
	mu      sync.Mutex
	served  []string // API paths served under the deployment
	models  int      // GETs of /openai/models
	refused []string // the other requests
}

func newAzureResource(t *testing.T, prefix string) *azureResource {
	next := fakellm.New(fakellm.Config{}).Handler()
	a := &azureResource{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		rest, ok := strings.CutPrefix(r.URL.Path, prefix+"/")
		switch {
		case r.URL.Query().Get("api-version") != azureVersion || r.Header.Get("api-key") != "azure-secret-key":
		case r.Method == http.MethodGet && r.URL.Path == "/openai/models":
			a.models++
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"data":[{"id":"gpt-4o","object":"model","status":"succeeded"}],"object":"list"}`))
			return
		case ok && !strings.HasPrefix(rest, "v1/") && r.Method == http.MethodPost:
			a.served = append(a.served, rest)
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/v1/" + rest
			r2.URL.RawPath = ""
			next.ServeHTTP(w, r2)
			return
		}
		a.refused = append(a.refused, r.Method+" "+r.URL.RequestURI())
		http.Error(w, `{"error":{"code":"404","message":"Resource not found"}}`, http.StatusNotFound)
	}))
	t.Cleanup(a.Close)
	return a
}

// reset forgets the requests seen.
func (a *azureResource) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.served, a.models, a.refused = nil, 0, nil
}

// seen returns the requests seen.
func (a *azureResource) seen() (served []string, models int, refused []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.served), a.models, slices.Clone(a.refused)
}
