package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_FileReference: a backend key given as ${file:PATH} (a
// Kubernetes Secret mounted as a file, a systemd credential) is the file's
// contents without the trailing line break, read on each load, so a
// rewritten file is the new value on the next load (SIGHUP); a missing file
// is an error naming the key and the path, never a value.
func TestParseGateway_FileReference(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "vllm key") // a space: the path is taken as written
	if err := os.WriteFile(key, []byte("sk-first-#'\" *x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := "backends:\n" +
		"  - match: https://vllm.internal:8000\n" +
		"    headers: {Authorization: \"Bearer ${file:" + key + "}\"}\n" +
		"  - match: https://other.internal\n" +
		"    headers:\n" +
		"      api-key: ${file:" + key + "}\n"
	g, err := config.ParseGateway("g.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Backends[0].Headers["Authorization"]; got != "Bearer sk-first-#'\" *x" {
		t.Errorf("Authorization %q; want the file's contents without its line break", got)
	}
	if got := g.Backends[1].Headers["api-key"]; got != "sk-first-#'\" *x" {
		t.Errorf("api-key %q; want the file's contents as they are", got)
	}
	if err := os.WriteFile(key, []byte("sk-second\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if g, err = config.ParseGateway("g.yaml", []byte(text)); err != nil || g.Backends[0].Headers["Authorization"] != "Bearer sk-second" {
		t.Errorf("after the file was rewritten: %v, %q; want Bearer sk-second", err, g.Backends[0].Headers["Authorization"])
	}

	missing := filepath.Join(dir, "gone")
	_, err = config.ParseGateway("g.yaml", []byte(strings.ReplaceAll(text, key, missing)))
	if err == nil {
		t.Fatal("a reference to a missing file loaded")
	}
	for _, want := range []string{"backends[0].headers.Authorization", "backends[1].headers.api-key", "${file:" + missing + "}", "no such file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q; want it to name %q", err, want)
		}
	}
	if _, err := config.ParseGateway("g.yaml", []byte("backends:\n  - {match: https://h, headers: {k: \"${file:}\"}}\n")); err == nil || !strings.Contains(err.Error(), "names no file") {
		t.Errorf("${file:}: %v; want an error saying it names no file", err)
	}
	// A file holding only a line break is an empty value, refused by name.
	if err := os.WriteFile(key, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.ParseGateway("g.yaml", []byte(text)); err == nil || !strings.Contains(err.Error(), "backends[0].headers.Authorization") && !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty file: %v; want the empty value refused", err)
	}
}

// TestParseGateway_FileReferenceUnderOverride: a key a flag replaces
// (--store) is not expanded, so its file is not read.
func TestParseGateway_FileReferenceUnderOverride(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "g.yaml")
	if err := os.WriteFile(cfg, []byte("store: ${file:/nonexistent/sluice-store}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := config.LoadGatewayOver(cfg, config.Override{Store: "x.db"})
	if err != nil || g.Store != "x.db" {
		t.Fatalf("got %v, store %q; want --store to replace the reference without reading it", err, g.Store)
	}
}

// TestParseGateway_FileReferenceNotARegularFile: a reference to a named
// pipe (or a directory) is refused at once: opening a pipe with no writer
// would block the load, or a SIGHUP's reload, for good. A symlink to a
// regular file, as a Kubernetes Secret volume's files are, is read.
func TestParseGateway_FileReferenceNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, dir} {
		_, err := config.ParseGateway("g.yaml", []byte("backends:\n  - {match: https://h, headers: {k: \"${file:"+path+"}\"}}\n"))
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), "backends[0].headers.k") {
			t.Errorf("${file:%s}: %v; want it refused as not a regular file, naming the key", path, err)
		}
	}
	real := filepath.Join(dir, "..2026_12_06", "key")
	if err := os.MkdirAll(filepath.Dir(real), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(real, []byte("sk-linked\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "key")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	g, err := config.ParseGateway("g.yaml", []byte("backends:\n  - {match: https://h, headers: {k: \"${file:"+link+"}\"}}\n"))
	if err != nil || g.Backends[0].Headers["k"] != "sk-linked" {
		t.Errorf("a symlink to a regular file: %v, %q; want sk-linked", err, g.Backends[0].Headers["k"])
	}
}
