package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// run runs the CLI in-process and returns its output and exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("sluice %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// readmeGateway starts a simulated backend and a gateway, and writes the
// README's model file (modelsYAML) for that backend; cmd appends the
// gateway's admin address and token to a CLI command.
func readmeGateway(t *testing.T) (gw *server.Server, file string, cmd func(args ...string) []string) {
	t.Helper()
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	gw, token := startGateway(t)
	file = filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", b.URL())), 0o644); err != nil {
		t.Fatal(err)
	}
	g := []string{"--server", gw.AdminURL(), "--token", token}
	return gw, file, func(args ...string) []string { return append(append([]string{}, args...), g...) }
}

func startGateway(t *testing.T) (*server.Server, string) {
	t.Helper()
	return startGatewayWith(t, func(*config.Gateway) {})
}

// startGatewayWith is startGateway with the config changed by edit first.
func startGatewayWith(t *testing.T, edit func(*config.Gateway)) (*server.Server, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	edit(&cfg)
	s, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	secret, err := s.EnsureBootstrapToken(context.Background())
	if err != nil || secret == "" {
		t.Fatalf("bootstrap token: %q %v", secret, err)
	}
	return s, secret
}

const modelsYAML = `models:
  - name: chat
    description: support assistant
    policy: {kind: split, split: [{version: v1.1.0, percent: 95}, {version: v1.2.0, percent: 5}]}
    labels: {stable: v1.1.0}
    versions:
      - version: v1.1.0
        endpoints: [BACKEND]
        upstream_model: llama-ft-1
        base_model: llama-3-8b
        family: llama-3
        weight_hash: sha256:aaa
        lineage: {dataset: support-v3, run: r-101}
        gpu_memory_gb: 18
        load_time_seconds: 45
        stage: production
      - version: v1.2.0
        endpoints: [BACKEND]
        upstream_model: llama-ft-2
        base_model: llama-3-8b
        family: llama-3
        weight_hash: sha256:bbb
        stage: staging
`

// TestCLI_Workflow walks the operator's path through the CLI against a
// live gateway: apply (twice), get, set split, label, stage, audit.
func TestCLI_Workflow(t *testing.T) {
	gw, file, cmd := readmeGateway(t)

	out := mustRun(t, cmd("apply", "-f", file, "--reason", "first rollout plan")...)
	if !strings.Contains(out, "applied") || !strings.Contains(out, "version.register") {
		t.Errorf("apply output: %s", out)
	}
	out = mustRun(t, cmd("apply", "-f", file, "--reason", "again")...)
	if !strings.Contains(out, "unchanged") {
		t.Errorf("second apply should change nothing: %s", out)
	}
	out = mustRun(t, cmd("get", "models")...)
	if !strings.Contains(out, "split v1.1.0=95 v1.2.0=5") {
		t.Errorf("get models: %s", out)
	}
	out = mustRun(t, cmd("get", "versions", "chat")...)
	if !strings.Contains(out, "chat:v1.1.0") || !strings.Contains(out, "llama-ft-2") {
		t.Errorf("get versions: %s", out)
	}
	mustRun(t, cmd("set", "split", "chat", "v1.1.0=90", "v1.2.0=10", "--reason", "widen canary")...)
	out = mustRun(t, cmd("get", "routes")...)
	if !strings.Contains(out, "effective     10%") {
		t.Errorf("get routes after split: %s", out)
	}
	mustRun(t, cmd("label", "chat", "canary=v1.2.0", "--reason", "preview")...)
	if gw.Control.Registry().Models["chat"].Labels["canary"] != "v1.2.0" {
		t.Error("label not set")
	}
	mustRun(t, cmd("stage", "chat:v1.2.0", "production", "--reason", "passed canary")...)

	// Errors name the fix and change nothing.
	_, errOut, code := run(t, cmd("set", "split", "chat", "v1.1.0=90", "v1.2.0=20", "--reason", "oops")...)
	if code == 0 || !strings.Contains(errOut, "sum to 110") {
		t.Errorf("bad split: exit %d, %s", code, errOut)
	}
	_, errOut, code = run(t, cmd("set", "split", "chat", "v1.1.0=100")...)
	if code == 0 || !strings.Contains(errOut, "--reason") {
		t.Errorf("missing reason: exit %d, %s", code, errOut)
	}
	_, errOut, code = run(t, cmd("stage", "chat:v1.1.0", "development", "--reason", "x")...)
	if code == 0 || !strings.Contains(errOut, "may go to") {
		t.Errorf("lifecycle out of order: exit %d, %s", code, errOut)
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, []byte(strings.ReplaceAll(string(written), "sha256:aaa", "sha256:ccc")), 0o644)
	_, errOut, code = run(t, cmd("apply", "-f", file, "--reason", "sneaky")...)
	if code == 0 || !strings.Contains(errOut, "weight_hash") || !strings.Contains(errOut, "new version tag") {
		t.Errorf("immutable conflict: exit %d, %s", code, errOut)
	}
	_, errOut, code = run(t, "get", "models", "--server", gw.AdminURL(), "--token", "wrong-token-000000")
	if code == 0 || !strings.Contains(errOut, "token") {
		t.Errorf("bad token: exit %d, %s", code, errOut)
	}

	out = mustRun(t, cmd("audit", "chat")...)
	for _, want := range []string{"widen canary", "model.policy", "version.stage", "bootstrap-admin"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit lacks %q:\n%s", want, out)
		}
	}
	// Now, to the nanosecond: after the split (set within this second),
	// and not in the future, which is refused.
	at := time.Now().UTC().Format(time.RFC3339Nano)
	out = mustRun(t, cmd("audit", "--at", at, "chat")...)
	if !strings.Contains(out, "split v1.1.0=90 v1.2.0=10") {
		t.Errorf("audit --at: %s", out)
	}
	// The request count window (at ± 5m) is not over: it is cut at now,
	// and the output says so.
	if !strings.Contains(out, " to now, ") || !strings.Contains(out, "is not over yet") {
		t.Errorf("audit --at now does not say its request window ends now:\n%s", out)
	}
	_ = sluice.RoleAdmin
}
