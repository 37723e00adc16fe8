package main

// Tests from the registry and audit review. Each fails on the code it was
// written against; its comment says what the user does, what happens now
// and what should happen.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
)

// reviewModelFile is a model with a production and a staging version on
// backend; extra is appended under the model.
func reviewModelFile(backend, extra string) string {
	return strings.ReplaceAll(`models:
  - name: chat
    versions:
      - version: v1.1.0
        endpoints: [BACKEND]
        stage: production
      - version: v1.2.0
        endpoints: [BACKEND]
        stage: staging
`, "BACKEND", backend) + extra
}

// What the user does: adds `target: v1.2.0` to the model file (the
// declarative way to ship, README "Prometheus gates") and runs `sluice
// apply -f models.yaml --dry-run`, then the real `sluice apply -f`.
//
// What happens now: both print "unchanged (revision 1)": the dry run does
// not say a rollout would start, and the real run started a progressive
// rollout of chat to v1.2.0 (its traffic begins moving in seconds) while
// telling the operator nothing changed. The API's answer lists the rollout
// in "rollouts"; the CLI prints only Changed and the audit entries.
//
// What should happen: the real run says it started the rollout (naming
// chat and v1.2.0), and the dry run says one would start; neither says
// "unchanged".
func TestApplyTargetReportsRollout(t *testing.T) {
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(reviewModelFile(b.URL(), "")), 0o644)
	mustRun(t, cmd("apply", "-f", file, "--reason", "register the builds")...)
	os.WriteFile(file, []byte(reviewModelFile(b.URL(), "    target: v1.2.0\n")), 0o644)

	dry := mustRun(t, cmd("apply", "-f", file, "--reason", "ship v1.2.0", "--dry-run")...)
	if gw.Control.Registry().Rollouts["chat"] != nil {
		t.Fatal("the dry run started a rollout")
	}
	out := mustRun(t, cmd("apply", "-f", file, "--reason", "ship v1.2.0")...)
	ro := gw.Control.Registry().Rollouts["chat"]
	if ro == nil {
		t.Fatal("the apply started no rollout")
	}
	if strings.Contains(dry, "unchanged") || !strings.Contains(dry, "v1.2.0") {
		t.Errorf("dry run of an apply that starts a rollout to v1.2.0 printed:\n%s", dry)
	}
	if strings.Contains(out, "unchanged") || !strings.Contains(out, "v1.2.0") {
		t.Errorf("apply that started rollout %s (%s) of chat to v1.2.0 printed:\n%s", ro.ID, ro.Phase, out)
	}
	// Let the warm-up settle before the gateway shuts down.
	deadline := time.Now().Add(30 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase == "warming" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
}

// What the user does: the model file had labels and rules; to remove them
// all the user writes `labels: {}` and `rules: []` (ApplyModel: "a field
// that is present replaces the stored one whole"; the API's rules endpoint
// documents [] as "remove every rule") and runs `sluice apply -f`.
//
// What happens now: the CLI sends the document as JSON with omitempty, so
// the empty map and list vanish on the way; the server sees absent fields,
// keeps the label and the rule, and the CLI prints "unchanged". The same
// file given as models_file to `sluice serve` is applied without JSON and
// does clear them, so the two ways of applying one file disagree.
//
// What should happen: `labels: {}` and `rules: []` clear the labels and
// rules through `sluice apply -f` too.
func TestApplyFileClearsLabelsAndRules(t *testing.T) {
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(reviewModelFile(b.URL(), "    labels: {beta: v1.2.0}\n    rules: [{header: X-User-Segment, values: [beta], version: v1.2.0}]\n")), 0o644)
	mustRun(t, cmd("apply", "-f", file, "--reason", "beta users on v1.2.0")...)
	if m := gw.Control.Registry().Models["chat"]; len(m.Labels) != 1 || len(m.Rules) != 1 {
		t.Fatalf("setup: labels %v rules %v", m.Labels, m.Rules)
	}
	os.WriteFile(file, []byte(reviewModelFile(b.URL(), "    labels: {}\n    rules: []\n")), 0o644)
	out := mustRun(t, cmd("apply", "-f", file, "--reason", "beta over")...)
	if m := gw.Control.Registry().Models["chat"]; len(m.Labels) != 0 || len(m.Rules) != 0 {
		t.Errorf("apply of `labels: {}` and `rules: []` printed %q and left labels %v, rules %v", strings.TrimSpace(out), m.Labels, m.Rules)
	}
}
