package main

import (
	"os"
	"strings"
	"testing"
)

// TestApply_StageWithoutHoldSaid: a model file's stage written without
// hold gets none, where sluice rollout start --stages holds each 5m by
// default; sluice apply --dry-run, sluice apply and sluice plan -f say so
// for the stage it concerns, and say nothing of a stage that has a hold
// or of the promotion at 100%.
func TestApply_StageWithoutHoldSaid(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the rollout")...)

	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(text), "    labels: {stable: v1.1.0}\n",
		"    labels: {stable: v1.1.0}\n    target: v1.2.0\n    rollout:\n      strategy: progressive\n      stages: [{percent: 20}, {percent: 50, hold: 10m}, {percent: 100}]\n", 1)
	// The policy is the rollout's from its start; leave the file's out.
	s = strings.Replace(s, "    policy: {kind: split, split: [{version: v1.1.0, percent: 95}, {version: v1.2.0, percent: 5}]}\n", "", 1)
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	const note = "stage 1 (20%) has no hold: it moves on as soon as the analysis passes and the stage has its min_samples (default 100), however short the time; write hold: 5m on it"
	check := func(what, out string) {
		t.Helper()
		if !strings.Contains(out, note) {
			t.Errorf("%s does not say stage 1 has no hold; want %q in:\n%s", what, note, out)
		}
		if strings.Contains(out, "stage 2 (50%) has no hold") || strings.Contains(out, "(100%) has no hold") {
			t.Errorf("%s says a stage with a hold, or the promotion, has none:\n%s", what, out)
		}
	}
	check("sluice apply --dry-run", mustRun(t, cmd("apply", "-f", file, "--dry-run", "--reason", "look first")...))
	out := mustRun(t, cmd("plan", "chat", "v1.2.0", "-f", file)...)
	check("sluice plan -f", out)
	if !strings.Contains(out, "  1.    20%  no hold, at least 100 requests") || !strings.Contains(out, "  2.    50%  hold 10m0s, at least 100 requests") {
		t.Errorf("sluice plan -f does not list the file's stages:\n%s", out)
	}
	out = mustRun(t, cmd("apply", "-f", file, "--reason", "roll it out")...)
	if !strings.Contains(out, "started: progressive") {
		t.Fatalf("apply started no rollout:\n%s", out)
	}
	check("sluice apply", out)
}

// TestApply_StageWithoutHoldSaidOnce: the gateway's apply answer carries
// the note on a stage without hold among its warnings (for API clients),
// and the CLI prints it beside the rollout, as before, not a second time
// among the warnings on stderr; with -o json, where nothing is printed
// beside the rollouts, it is among the warnings.
func TestApply_StageWithoutHoldSaidOnce(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "two versions")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the rollout")...)
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(text), "    labels: {stable: v1.1.0}\n",
		"    labels: {stable: v1.1.0}\n    target: v1.2.0\n    rollout:\n      strategy: progressive\n      stages: [{percent: 20}, {percent: 100}]\n", 1)
	s = strings.Replace(s, "    policy: {kind: split, split: [{version: v1.1.0, percent: 95}, {version: v1.2.0, percent: 5}]}\n", "", 1)
	if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	const note = "stage 1 (20%) has no hold"
	for _, args := range [][]string{{"--dry-run"}, {"--dry-run", "-o", "json"}, nil} {
		out, errOut, code := run(t, cmd(append([]string{"apply", "-f", file, "--reason", "ship"}, args...)...)...)
		if code != 0 {
			t.Fatalf("sluice apply %v: exit %d: %s", args, code, errOut)
		}
		json := len(args) == 3
		inOut, inErr := strings.Count(out, note), strings.Count(errOut, note)
		if !json && (inOut != 1 || inErr != 0) || json && inErr != 1 {
			t.Errorf("sluice apply %v: the note %d times on stdout, %d on stderr; want once, beside the rollout (among the warnings with -o json):\nstdout:\n%s\nstderr:\n%s", args, inOut, inErr, out, errOut)
		}
	}
}
