package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The program is built once, runs, and is gone after Remove.
func TestBuildRunRemove(t *testing.T) {
	chdirModule(t, "hello", `println("hello")`)
	b := New(".", "hello")
	p1, err := b.Path()
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := b.Path()
	if p1 != p2 {
		t.Errorf("built twice: %s, %s", p1, p2)
	}
	out, err := exec.Command(p1).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("ran: %q, %v", out, err)
	}
	b.Remove()
	if _, err := os.Stat(filepath.Dir(p1)); !os.IsNotExist(err) {
		t.Errorf("%s still there after Remove (%v)", filepath.Dir(p1), err)
	}
}

// A build error names the package and carries the compiler's output.
func TestBuildError(t *testing.T) {
	chdirModule(t, "broken", "undefined()")
	b := New(".", "broken")
	defer b.Remove()
	if _, err := b.Path(); err == nil || !strings.Contains(err.Error(), "undefined") {
		t.Fatalf("err %v, want the compiler's message", err)
	}
}

// chdirModule makes the test's working directory a new module whose main
// function runs body.
func chdirModule(t *testing.T, name, body string) {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+name+"\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { "+body+" }\n"), 0o644)
	t.Chdir(dir)
}
