package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openai/openai-go"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_AzureDeploymentSplit: an Azure OpenAI deployment's endpoint
// (…/openai/deployments/NAME?api-version=…) answers no health path, so its
// version failed every health check and was left out of splits: a 50/50
// canary onto it sent it nothing. Its health checks now ask the resource's
// model list (GET …/openai/models?api-version=…, with the resource's
// api-key), which Azure answers: the version takes its share of a split.
func TestGateway_AzureDeploymentSplit(t *testing.T) {
	const prefix = "/openai/deployments/gpt4o"
	azure := newAzureResource(t, prefix)
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name:   "chat",
		Policy: &sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}}},
		Versions: []sluice.Version{
			{Version: "v1", Endpoints: []string{MustBackend(t, fakellm.Config{}).URL()}, Stage: sluice.StageProduction},
			{Version: "v2", Endpoints: []string{azure.URL + prefix + "?api-version=" + azureVersion}, Stage: sluice.StageStaging},
		},
	}}}
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.Backends = []config.Backend{{Match: azure.URL + "/openai", Headers: map[string]string{"api-key": "azure-secret-key"}}}
	}, nil, doc)
	// A few health rounds (every 100 ms here).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, models, refused := azure.seen()
		if models >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deployment's resource was asked for its models %d times in 10 s (refused: %q)", models, refused)
		}
	}
	client := openaiClient(gw.URL())
	for i := range 40 {
		chat, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "chat",
			User:     openai.String(fmt.Sprintf("user-%d", i)),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		if err != nil || len(chat.Choices) == 0 {
			t.Fatalf("chat %d: %v", i, err)
		}
	}
	served, _, refused := azure.seen()
	if len(served) < 8 {
		t.Errorf("the Azure deployment at 50%% served %d of 40 requests: its version is left out of the split", len(served))
	}
	if len(refused) > 0 {
		t.Errorf("the deployment's resource was sent %q", refused)
	}
}
