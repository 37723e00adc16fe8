package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
