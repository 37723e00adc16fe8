package main

import (
	"os"
	"strings"
	"testing"
)

// TestCLI_ApplyDryRunSaysWhatChanges: a GitOps user reviews `sluice apply
// --dry-run` before letting the loop apply a file, as Argo CD's diff is
// read before a sync. After a rollout promoted v1.2.0, the file still
// naming the old split would put traffic back on v1.1.0 and move the
// stable label; the dry run listed only "model.policy  chat", so the
// change that mattered was invisible unless one read -o json. Each change
// now says what it changes: the policy, the labels and the stage, from
// and to.
func TestCLI_ApplyDryRunSaysWhatChanges(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "register")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.2.0", "--reason", "by hand")...)
	mustRun(t, cmd("label", "chat", "stable=v1.2.0", "--reason", "by hand")...)
	mustRun(t, cmd("stage", "chat:v1.2.0", "production", "--reason", "by hand")...)
	mustRun(t, cmd("stage", "chat:v1.1.0", "deprecated", "--reason", "by hand")...)

	out := mustRun(t, cmd("apply", "-f", file, "--dry-run", "--reason", "gitops")...)
	for _, want := range []string{
		"policy specific v1.2.0 → split v1.1.0=95 v1.2.0=5",
		"label stable v1.2.0 → v1.1.0",
		"stage deprecated → production",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run does not say %q:\n%s", want, out)
		}
	}
	// Registering says nothing more than the version; a new label is from
	// nothing, a removed one to nothing.
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), "labels: {stable: v1.1.0}", "labels: {stable: v1.1.0, canary: v1.2.0}", 1)
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, cmd("apply", "-f", file, "--reason", "gitops")...)
	if !strings.Contains(out, "label canary (none) → v1.2.0") {
		t.Errorf("the apply does not say the canary label was added:\n%s", out)
	}
}
