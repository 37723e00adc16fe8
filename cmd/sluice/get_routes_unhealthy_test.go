package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// What the user does: registers a model pinned to one version (policy
// specific) whose backend is down, and runs sluice get routes to see why
// every request fails.
// What must happen: the serving line says the version is unhealthy. It said
// "serving: chat:v1.0.0" and nothing else, while a split's member in the
// same state was marked UNHEALTHY; and a split whose every member is down,
// still served (there is nowhere else to send it), no longer says "left
// out" beside its effective 100%.
func TestCLI_GetRoutesMarksAnUnhealthyServingVersion(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close() // connection refused from now on

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Health.Interval, cfg.Health.Timeout, cfg.Health.FailAfter = 20*time.Millisecond, 200*time.Millisecond, 1
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	token, err := gw.EnsureBootstrapToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "models.yaml")
	models := `models:
  - name: pinned
    policy: {kind: specific, version: v1.0.0}
    versions:
      - {version: v1.0.0, endpoints: [DEAD], upstream_model: m}
  - name: split
    policy: {kind: split, split: [{version: v1.0.0, percent: 100}]}
    versions:
      - {version: v1.0.0, endpoints: [DEAD], upstream_model: m}
`
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(models, "DEAD", deadURL)), 0o644); err != nil {
		t.Fatal(err)
	}
	g := []string{"--server", gw.AdminURL(), "--token", token}
	mustRun(t, append([]string{"apply", "-f", file, "--reason", "r"}, g...)...)

	// Health checks run in the background: wait (no bound asserted) until
	// the split shows its member down, as it did before this change.
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out = mustRun(t, append([]string{"get", "routes"}, g...)...)
		if strings.Contains(out, "UNHEALTHY") || time.Now().After(deadline) {
			break
		}
	}
	var pinnedLine, splitLine string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, "serving: pinned:v1.0.0"):
			pinnedLine = l
		case strings.Contains(l, "split  v1.0.0"):
			splitLine = l
		}
	}
	if !strings.Contains(pinnedLine, "UNHEALTHY") || !strings.Contains(pinnedLine, "health checks fail") {
		t.Errorf("the pinned model's serving line does not say its version is unhealthy: %q\n%s", pinnedLine, out)
	}
	if !strings.Contains(splitLine, "UNHEALTHY") || strings.Contains(splitLine, "left out") || !strings.Contains(splitLine, "still served") {
		t.Errorf("a split member down but still served (no healthy member): %q, want UNHEALTHY and still served, not left out\n%s", splitLine, out)
	}
}
