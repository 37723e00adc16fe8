package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What the user does: sluice serve -c with a file that is not there (a
// typo, or before writing one).
// What must happen: the error says the file is missing and how to go on
// (correct the path, write one, or serve on the defaults without -c), as
// the other config errors say what to do; "read nope.yaml: open
// nope.yaml: no such file or directory" gave no hint. Nothing is started
// or created.
func TestServe_MissingConfigFileSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nope.yaml")
	_, stderr, code := run(t, "serve", "-c", path)
	want := path + ": no such file: correct the path, or write one (every key is optional: the README's Configuration section lists them with their defaults, such as listen: 127.0.0.1:8080), or run sluice serve without -c to start on the defaults"
	if code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("serve -c %s: exit %d, stderr %q; want %q", path, code, stderr, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("serve -c of a missing file left %v in its directory", entries)
	}
	// A ${file:} reference the config names that is missing keeps its
	// own error, which names the reference, not the config file.
	cfg := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfg, []byte("listen: 127.0.0.1:0\nstore: "+filepath.Join(dir, "s.db")+"\njudge: {endpoint: http://127.0.0.1:1, model: j, api_key: \"${file:"+filepath.Join(dir, "gone")+"}\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, "serve", "-c", cfg)
	if code == 0 || strings.Contains(stderr, "no such file: correct the path") || !strings.Contains(stderr, "${file:") {
		t.Errorf("serve -c with a missing ${file:} reference: exit %d, stderr %q; want the reference's own error", code, stderr)
	}
}
