package config_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_Backends: backends loads with ${ENV} in a header's
// value, and each mistake is refused naming the key, never quoting the
// value.
func TestParseGateway_Backends(t *testing.T) {
	os.Setenv("SLUICE_TEST_VLLM_KEY", "vllm-secret-123")
	defer os.Unsetenv("SLUICE_TEST_VLLM_KEY")
	g, err := config.ParseGateway("sluice.yaml", []byte(`backends:
  - match: https://vllm.internal:8000
    headers: {Authorization: "Bearer ${SLUICE_TEST_VLLM_KEY}"}
  - {match: "https://x.openai.azure.com/openai", headers: {api-key: "${SLUICE_TEST_VLLM_KEY}"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Backends) != 2 || g.Backends[0].Headers["Authorization"] != "Bearer vllm-secret-123" || g.Backends[1].Headers["api-key"] != "vllm-secret-123" {
		t.Fatalf("backends %+v", g.Backends)
	}
	for _, c := range []struct{ yaml, want string }{
		{"backends: [{match: 'ftp://h', headers: {A: vllm-secret-123}}]", "backends[0].match"},
		{"backends: [{match: 'http://u:vllm-secret-123@h', headers: {A: b}}]", "backends[0].match: it holds user:password@"},
		{"backends: [{match: 'http://h/?sig=vllm-secret-123', headers: {A: b}}]", "backends[0].match"},
		{"backends: [{match: 'http://h'}]", "backends[0].headers: give at least one header"},
		{"backends: [{match: 'http://h', headers: {Host: vllm-secret-123}}]", "backends[0].headers.Host"},
		{"backends: [{match: 'http://h', headers: {X-Sluice-Shadow: vllm-secret-123}}]", "backends[0].headers.X-Sluice-Shadow"},
		{"backends: [{match: 'http://h', headers: {Authorization: ''}}]", "backends[0].headers.Authorization: the value is empty"},
		{"backends: [{match: 'http://h', headers: {Authorization: \"vllm-secret-123\\nX: 1\"}}]", "backends[0].headers.Authorization: the value holds a line break"},
		{"backends: [{match: 'http://h', headers: {'bad name': vllm-secret-123}}]", "backends[0].headers: \"bad name\" is not a valid header name"},
		{"backends: [{match: 'http://h', headers: {a: vllm-secret-123, A: vllm-secret-123}}]", "backends[0].headers: A and a are the same header"},
		{"backends: [{match: 'http://H', headers: {A: b}}, {match: 'http://h:80/', headers: {A: vllm-secret-123}}]", "backends[1].match: matches the same endpoints as backends[0]"},
	} {
		_, err := config.ParseGateway("sluice.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.yaml, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "vllm-secret-123") {
			t.Errorf("%s: the error quotes the secret: %v", c.yaml, err)
		}
	}
	// SIGHUP reloads backends: a change does not wait for a restart.
	run, next := config.Default(), config.Default()
	next.Backends = g.Backends
	if keys := config.NeedRestart(run, next); slices.Contains(keys, "backends") {
		t.Errorf("NeedRestart = %v, want backends reloaded", keys)
	}
}
