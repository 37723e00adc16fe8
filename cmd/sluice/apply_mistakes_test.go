package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// applyFile writes text to a model file and applies it with cmd, returning
// stdout, stderr and the exit code.
func applyFile(t *testing.T, cmd func(args ...string) []string, text string) (string, string, int) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return run(t, cmd("apply", "-f", f, "--reason", "mistake")...)
}

// What the user does: declares one version tag twice in a model's
// versions, with different endpoints (a copy-paste of the block for the
// second fine-tune, its tag left unchanged).
// What must happen: the apply is refused, naming both places in the file
// and saying to declare each version once; nothing is written. It said
// "version embed:v1 is already registered with different endpoints and
// upstream_model: versions are immutable": the version was registered
// nowhere, and the user went looking for an earlier registration.
func TestApply_VersionDeclaredTwice(t *testing.T) {
	gw, _, cmd := readmeGateway(t)
	_, stderr, code := applyFile(t, cmd, `models:
  - name: embed
    versions:
      - {version: v1, endpoints: [http://127.0.0.1:9/a], upstream_model: ft-1}
      - {version: v1, endpoints: [http://127.0.0.1:9/b], upstream_model: ft-2}
`)
	want := "models[0].versions[1]: version embed:v1 is declared twice in the file (versions[0] too), with different endpoints and upstream_model: declare each version once"
	if code == 0 || !strings.Contains(stderr, want) || strings.Contains(stderr, "already registered") {
		t.Errorf("apply of a version declared twice: exit %d, stderr %q; want %q", code, stderr, want)
	}
	if _, ok := gw.Control.Registry().Models["embed"]; ok {
		t.Errorf("the refused file's model was written")
	}
	// Declared twice alike, it was and stays a harmless repetition.
	out, stderr, code := applyFile(t, cmd, `models:
  - name: embed
    versions:
      - {version: v1, endpoints: [http://127.0.0.1:9/a], upstream_model: ft-1}
      - {version: v1, endpoints: [http://127.0.0.1:9/a], upstream_model: ft-1}
`)
	if code != 0 || !strings.Contains(out, "version.register") {
		t.Errorf("apply of a version declared twice alike: exit %d, stdout %q, stderr %q; want it registered once", code, out, stderr)
	}
}

// What the user does: declares one version twice in a model file with the
// same build but another stage (a line copied, then its stage moved on).
// What must happen: the file applies, as it did before the check of a tag
// declared twice, the second stage moving the version along its lifecycle
// as a second apply would: the check refuses two builds under one tag, and
// a stage is no part of the build.
func TestApply_VersionDeclaredTwiceWithAnotherStageApplies(t *testing.T) {
	gw, _, cmd := readmeGateway(t)
	out, stderr, code := applyFile(t, cmd, `models:
  - name: embed
    versions:
      - {version: v1, endpoints: [http://127.0.0.1:9/a], upstream_model: ft-1, stage: staging}
      - {version: v1, endpoints: [http://127.0.0.1:9/a], upstream_model: ft-1, stage: production}
`)
	if code != 0 || !strings.Contains(out, "version.register") {
		t.Fatalf("apply of a version declared twice with another stage: exit %d, stdout %q, stderr %q; want it applied", code, out, stderr)
	}
	if v := gw.Control.Registry().Version("embed", "v1"); v == nil || v.Stage != sluice.StageProduction {
		t.Errorf("embed:v1 after the apply: %+v; want it registered, at stage production", v)
	}
}

// What the user does: registers a version with the endpoint written as the
// URL of the API call, http://host:8000/v1/chat/completions, as a curl
// command or a vLLM log shows it, rather than the server's base URL.
// What must happen: the apply is refused, saying the gateway adds the API
// path and giving the base URL to write; nothing is written. It was
// registered (versions are immutable, so the fix was a new tag and
// retiring this one), every request sent to it got the backend's 404 for
// /v1/chat/completions/v1/chat/completions, and the apply's warning said
// to change health.path, which was not at fault.
func TestApply_EndpointWithAPIPathRefused(t *testing.T) {
	gw, _, cmd := readmeGateway(t)
	for _, tc := range []struct{ endpoint, base string }{
		{"http://127.0.0.1:9/v1/chat/completions", "http://127.0.0.1:9/v1"},
		{"http://127.0.0.1:9/v1/chat/completions/", "http://127.0.0.1:9/v1"},
		{"http://127.0.0.1:9/v1/embeddings", "http://127.0.0.1:9/v1"},
		{"https://u:secret@vllm.internal:8000/openai/v1/completions?api-version=1", "https://vllm.internal:8000/openai/v1"},
	} {
		_, stderr, code := applyFile(t, cmd, `models:
  - name: embed
    versions:
      - {version: v1, endpoints: ["`+tc.endpoint+`"], upstream_model: ft-1}
`)
		want := "embed:v1: endpoint " + tc.base
		if code == 0 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "the gateway adds the API path") || !strings.Contains(stderr, "write the server's base URL, "+tc.base) {
			t.Errorf("apply of endpoint %s: exit %d, stderr %q; want a refusal naming %q and the base URL to write", tc.endpoint, code, stderr, want)
		}
		if strings.Contains(stderr, "secret") {
			t.Errorf("the refusal shows the endpoint's password: %s", stderr)
		}
	}
	if _, ok := gw.Control.Registry().Models["embed"]; ok {
		t.Errorf("a refused file's model was written")
	}
	// A base URL whose own path holds such a word is not refused.
	out, stderr, code := applyFile(t, cmd, `models:
  - name: embed
    versions:
      - {version: v1, endpoints: [http://127.0.0.1:9/models/embeddings-small/v1], upstream_model: ft-1}
`)
	if code != 0 || !strings.Contains(out, "version.register") {
		t.Errorf("apply of a base URL: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// What the user does: names a label where a version tag goes, a rule's or
// a split's version: stable.
// What must happen: the error says stable is a label and which version to
// write. It said "rule 1 refers to chat:stable, which is not registered:
// register the version first".
func TestApply_LabelWhereVersionGoes(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "register")...)
	for what, doc := range map[string]string{
		"rule 1":    "    rules:\n      - {header: X-User-Segment, values: [beta], version: stable}\n",
		"the split": "    policy: {kind: split, split: [{version: stable, percent: 95}, {version: v1.2.0, percent: 5}]}\n",
	} {
		_, stderr, code := applyFile(t, cmd, "models:\n  - name: chat\n"+doc)
		want := what + " refers to chat:stable, which is not a version: stable is a label of chat (→ v1.1.0), and " + what + " takes a version tag: write v1.1.0"
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("%s naming the label stable: exit %d, stderr %q; want %q", what, code, stderr, want)
		}
	}
}
