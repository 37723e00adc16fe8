package main

// Each test here came from a review, with the bug it found; its comment
// says what the code did before the fix.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEModelFileApplies copies the model file of README.md's
// "The model file (`sluice apply -f`)" section and applies it, as a user
// following the README does (`./sluice apply -f models.yaml --reason ...`).
// It fails: the example's split and its canary label name v1.2.0 but only
// v1.1.0 is listed under versions, so apply answers "the split refers to
// chat:v1.2.0, which is not registered".
func TestREADMEModelFileApplies(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "### The model file")
	if i < 0 {
		t.Fatal("README has no model file section")
	}
	text = text[i:]
	start := strings.Index(text, "```yaml\n")
	end := strings.Index(text[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no yaml block in the model file section")
	}
	file := filepath.Join(t.TempDir(), "models.yaml")
	if err := os.WriteFile(file, []byte(text[start+8:start+8+end]), 0o644); err != nil {
		t.Fatal(err)
	}
	s, token := startGateway(t)
	_, errOut, code := run(t, "apply", "-f", file, "--reason", "register the fine-tunes", "--server", s.AdminURL(), "--token", token)
	if code != 0 {
		t.Errorf("the README's model file, applied as the README says: exit %d: %s", code, strings.TrimSpace(errOut))
	}
}
