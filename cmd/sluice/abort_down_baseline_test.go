package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestCLI_AbortOntoADownBaseline: an operator aborts a canary while the
// baseline's backends fail their health checks. The abort still happens
// (the candidate is what they judged bad), but the CLI warns that requests
// now fail and where to look, and the rollout's timeline keeps the warning
// for rollout status and the dashboard.
func TestCLI_AbortOntoADownBaseline(t *testing.T) {
	base := fakellm.New(fakellm.Config{})
	if err := base.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { base.Close() })
	cand := reviewBackend(t, fakellm.Behavior{})

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Health.Interval = 100 * time.Millisecond
	cfg.Health.Timeout = 500 * time.Millisecond
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
	g, _, _ := applyReviewModels(t, gw.AdminURL(), token, base.URL(), cand.URL())
	mustRun(t, append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, g...)...)
	deadline := time.Now().Add(60 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase != "progressing" {
		if time.Now().After(deadline) {
			t.Fatalf("the canary never went live: %s", gw.Control.Registry().Rollouts["chat"].Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}

	base.Close() // the baseline's backend dies
	for gw.OutOfService("chat:v1.1.0") == "" {
		if time.Now().After(deadline) {
			t.Fatal("the baseline was never marked down")
		}
		time.Sleep(20 * time.Millisecond)
	}

	out, errOut, code := run(t, append([]string{"rollout", "abort", "chat", "--reason", "bad answers"}, g...)...)
	if code != 0 || !strings.Contains(out, "aborted") {
		t.Fatalf("abort: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	want := "WARNING: traffic went back to chat:v1.1.0 is failing health checks: requests for chat fail until its backends recover or the routing is set by hand; sluice get routes shows their health"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	status := mustRun(t, append([]string{"rollout", "status", "chat"}, g...)...)
	if !strings.Contains(status, "traffic went back to chat:v1.1.0 is failing health checks") {
		t.Errorf("rollout status does not show the warning:\n%s", status)
	}
	routes := mustRun(t, append([]string{"get", "routes"}, g...)...)
	if !strings.Contains(routes, "UNHEALTHY") {
		t.Errorf("get routes does not show the baseline down, as the warning says:\n%s", routes)
	}
}
