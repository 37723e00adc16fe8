package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/fakellm"
)

// TestApply_WarnsOfEndpointNothingAnswers: sluice apply took an endpoint
// nothing listened on without a word, and a model pinned to its version
// then failed every request with 502. The gateway now probes each endpoint
// an apply adds, once, at the health check's path, and the CLI warns of
// each that did not answer; the apply itself stands.
func TestApply_WarnsOfEndpointNothingAnswers(t *testing.T) {
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/v1"
	l.Close() // nothing listens on it now

	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	text := strings.Replace(modelsYAML, "BACKEND", b.URL(), 1) // v1.1.0 answers
	text = strings.Replace(text, "BACKEND", closed, 1)         // v1.2.0 does not
	file := filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, append([]string{"apply", "-f", file, "--reason", "register"}, g...)...)
	if code != 0 || !strings.Contains(out, "applied: revision") {
		t.Fatalf("sluice apply: exit %d\n%s%s\nwant it applied", code, out, errOut)
	}
	addr := strings.TrimPrefix(strings.TrimSuffix(closed, "/v1"), "http://")
	for _, want := range []string{"warning: endpoint " + closed + " of chat:v1.2.0 did not answer", "GET http://" + addr + "/health", "connection refused", "health checker keeps it out of the split"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("sluice apply stderr:\n%s\nwant %q", errOut, want)
		}
	}
	if strings.Contains(errOut, b.URL()) || strings.Count(errOut, "warning:") != 1 {
		t.Errorf("sluice apply stderr:\n%s\nwant one warning, none for the backend that answers", errOut)
	}
	// The apply stood: the version is registered.
	if got := mustRun(t, append([]string{"get", "versions", "chat"}, g...)...); !strings.Contains(got, "v1.2.0") {
		t.Errorf("get versions after the apply:\n%s\nwant v1.2.0 registered", got)
	}
	// Applying the same file again adds no endpoint: no probe, no warning.
	_, errOut, _ = run(t, append([]string{"apply", "-f", file, "--reason", "again"}, g...)...)
	if strings.Contains(errOut, "warning:") {
		t.Errorf("re-applying the same file warned again:\n%s", errOut)
	}
}
