package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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
	fb := fakellm.New(fakellm.Config{})
	next := fb.Handler()
	var mu sync.Mutex
	var served, refused []string
	azure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodGet && r.URL.Path == "/openai/models" && r.URL.Query().Get("api-version") == azureVersion && r.Header.Get("api-key") == "azure-secret-key" {
			w.Write([]byte(`{"data":[],"object":"list"}`)) // the health checks' (sluice.HealthURL)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, prefix+"/")
		if !ok || strings.HasPrefix(rest, "v1/") || r.URL.Query().Get("api-version") != azureVersion || r.Header.Get("api-key") != "azure-secret-key" {
			refused = append(refused, r.Method+" "+r.URL.RequestURI())
			http.Error(w, `{"error":{"code":"404","message":"Resource not found"}}`, http.StatusNotFound)
			return
		}
		served = append(served, rest)
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/v1/" + rest
		r2.URL.RawPath = ""
		next.ServeHTTP(w, r2)
	}))
	t.Cleanup(azure.Close)
	endpoint := azure.URL + prefix + "?api-version=" + azureVersion
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:     "chat",
		Policy:   &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
		Versions: []sluice.Version{{Version: "v1", Endpoints: []string{endpoint}, Stage: sluice.StageProduction}},
	}}}
	backends := []config.Backend{{Match: azure.URL + "/openai/deployments", Headers: map[string]string{"api-key": "azure-secret-key"}}}
	for _, stack := range []string{"", "net/http"} {
		t.Run("Server="+stack, func(t *testing.T) {
			mu.Lock()
			served, refused = nil, nil
			mu.Unlock()
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
			mu.Lock()
			defer mu.Unlock()
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
