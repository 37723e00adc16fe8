package main

import (
	"strings"
	"testing"
)

// TestCLI_RolloutCommands drives plan, rollout start/status/pause/resume/
// abort and the fire drill through the CLI against a live gateway.
func TestCLI_RolloutCommands(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the rollout")...)

	out := mustRun(t, cmd("plan", "chat", "v1.2.0")...)
	for _, want := range []string{"Risk:      MEDIUM", "same base model", "Strategy:  progressive", "GPU memory", "Rollback triggers"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, cmd("plan", "samples", "--baseline", "0.85", "--mde", "0.05")...)
	if !strings.Contains(out, "686 requests per arm") {
		t.Errorf("plan samples: %s", out)
	}

	out = mustRun(t, cmd("rollout", "drill", "chat", "--to", "v1.2.0")...)
	for _, want := range []string{"set canary", "candidate receives traffic", "roll back", "candidate traffic stops", "drill PASSED"} {
		if !strings.Contains(out, want) {
			t.Errorf("drill output lacks %q:\n%s", want, out)
		}
	}
	if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.1.0" {
		t.Errorf("routing after the drill: %s", got)
	}

	out = mustRun(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--canary-percent", "5", "--reason", "try the fine-tune")...)
	if !strings.Contains(out, "started: canary") {
		t.Errorf("start: %s", out)
	}
	_, errOut, code := run(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "twice")...)
	if code == 0 || !strings.Contains(errOut, "already has rollout") {
		t.Errorf("second start: exit %d %s", code, errOut)
	}
	out = mustRun(t, cmd("rollout", "status", "chat")...)
	if !strings.Contains(out, "Rollout:") || !strings.Contains(out, "v1.1.0 → v1.2.0") {
		t.Errorf("status: %s", out)
	}
	_, errOut, code = run(t, cmd("rollout", "abort", "chat")...)
	if code == 0 || !strings.Contains(errOut, "--reason") {
		t.Errorf("abort without reason: exit %d %s", code, errOut)
	}
	out = mustRun(t, cmd("rollout", "abort", "chat", "--reason", "changed our mind")...)
	if !strings.Contains(out, "aborted") {
		t.Errorf("abort: %s", out)
	}
	if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.1.0" {
		t.Errorf("routing after abort: %s", got)
	}
	// The exit status says how it ended: 1 for an abort, for CI to gate on.
	out, errOut, code = run(t, cmd("rollout", "watch", "chat")...)
	if code != 1 || !strings.Contains(out, "aborted") || !strings.Contains(errOut, "ended aborted") {
		t.Errorf("watch of an aborted rollout: exit %d\n%s\n%s", code, out, errOut)
	}
}
