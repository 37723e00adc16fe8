package sluice_test

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// TestEndpointURL: the API path goes before the endpoint's query, after its
// path less /v1, and the queries merge with the endpoint's parameters kept.
func TestEndpointURL(t *testing.T) {
	for _, c := range []struct{ endpoint, path, want string }{
		{"http://h:8000", "/v1/chat/completions", "http://h:8000/v1/chat/completions"},
		{"http://h:8000/v1/", "/health", "http://h:8000/health"},
		{"https://a.openai.azure.com/openai/deployments/d?api-version=2024-02-01", "/health", "https://a.openai.azure.com/openai/deployments/d/health?api-version=2024-02-01"},
		// An Azure OpenAI deployment takes the API path without its /v1.
		{"https://a.openai.azure.com/openai/deployments/d?api-version=2024-02-01", "/v1/chat/completions", "https://a.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-02-01"},
		{"https://a.openai.azure.com/openai/deployments/d/v1/", "/v1/embeddings", "https://a.openai.azure.com/openai/deployments/d/embeddings"},
		{"https://a.openai.azure.com/openai/v1", "/v1/chat/completions", "https://a.openai.azure.com/openai/v1/chat/completions"},
		{"https://u:p@h/v1?api-version=1", "/v1/responses/r1/input_items?order=asc&limit=2", "https://u:p@h/v1/responses/r1/input_items?api-version=1&order=asc&limit=2"},
		{"http://h?sig=abc&api-version=1", "/v1/x?api-version=2&sig=mine&a=b", "http://h/v1/x?sig=abc&api-version=1&a=b"},
		{"http://h/?x=1#frag", "/v1/x", "http://h/v1/x?x=1"},
	} {
		if got := sluice.EndpointURL(c.endpoint, c.path); got != c.want {
			t.Errorf("EndpointURL(%q, %q) = %q, want %q", c.endpoint, c.path, got, c.want)
		}
	}
}

// TestHealthURL: an Azure OpenAI deployment's health is asked of its
// resource's model list, with the endpoint's query (Azure serves no
// health path under a deployment); any other endpoint's is EndpointURL's.
func TestHealthURL(t *testing.T) {
	for _, c := range []struct{ endpoint, path, want string }{
		{"https://a.openai.azure.com/openai/deployments/d?api-version=2024-10-21", "/health", "https://a.openai.azure.com/openai/models?api-version=2024-10-21"},
		{"https://a.openai.azure.com/openai/deployments/d/?api-version=2024-10-21#x", "/ready", "https://a.openai.azure.com/openai/models?api-version=2024-10-21"},
		{"https://a.openai.azure.com/openai/deployments/d", "/health", "https://a.openai.azure.com/openai/models"},
		// A path before the resource's that names deployments too (a
		// proxy's prefix) is kept.
		{"https://gw.example/deployments/openai/deployments/d?api-version=2024-10-21", "/health", "https://gw.example/deployments/openai/models?api-version=2024-10-21"},
		{"https://a.openai.azure.com/openai/v1", "/v1/models", "https://a.openai.azure.com/openai/v1/models"},
		{"http://h:8000/v1?sig=1", "/health", "http://h:8000/health?sig=1"},
	} {
		if got := sluice.HealthURL(c.endpoint, c.path); got != c.want {
			t.Errorf("HealthURL(%q, %q) = %q, want %q", c.endpoint, c.path, got, c.want)
		}
	}
}
