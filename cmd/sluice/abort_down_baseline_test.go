package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestCLI_AbortOntoADownBaseline: an operator aborts a canary while the
// baseline's backends fail their health checks. The abort still happens
// (the candidate is what they judged bad), but the CLI warns that requests
// now fail and where to look, and the rollout's timeline keeps the warning
// for rollout status and the dashboard.
func TestCLI_AbortOntoADownBaseline(t *testing.T) {
	gw, _, g, base, _ := rolloutGatewayBackends(t, fakellm.Behavior{}, fakellm.Behavior{}, func(c *config.Gateway) {
		c.Health.Interval = 100 * time.Millisecond
		c.Health.Timeout = 500 * time.Millisecond
	})
	mustRun(t, append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, g...)...)
	deadline := time.Now().Add(60 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase != "progressing" {
		if time.Now().After(deadline) {
			t.Fatalf("the canary never went live: %s", gw.Control.Registry().Rollouts["chat"].Phase)
		}
		time.Sleep(20 * time.Millisecond)
	}

	base.SetHealthy(false) // the baseline's backend fails its health checks
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
