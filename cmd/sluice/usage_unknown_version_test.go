package main

import (
	"strings"
	"testing"
)

// `sluice usage --version` or `--model` naming nothing registered, with no
// requests, fails as `sluice requests` does, before printing anything: it
// printed an empty table with a TOTAL of 0 and then the error, and with -o
// json an empty report and exit 0, as if the version had served nothing.
func TestCLI_UsageUnknownVersionPrintsNothing(t *testing.T) {
	_, _, cmd := twoTeamsGateway(t)
	for _, args := range [][]string{
		{"usage", "--version", "v9.9.9"},
		{"usage", "--version", "v9.9.9", "-o", "json"},
		{"usage", "--model", "chat", "--version", "v9.9.9", "-o", "json"},
		{"usage", "--model", "nochat"},
		{"usage", "--model", "nochat", "-o", "json"},
	} {
		stdout, stderr, code := run(t, cmd(args...)...)
		if code == 0 || stdout != "" || !strings.Contains(stderr, "not registered") && !strings.Contains(stderr, "no model has a version") && !strings.Contains(stderr, "nochat") {
			t.Errorf("sluice %s: exit %d, stdout %q, stderr %q; want an error saying it is not registered, and nothing printed", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	// A registered version without requests in the window is no error.
	stdout, stderr, code := run(t, cmd("usage", "--version", "v1.2.0")...)
	if code != 0 || !strings.Contains(stdout, "TOTAL") || !strings.Contains(stderr, "no requests of version v1.2.0 match") {
		t.Errorf("usage --version v1.2.0 without requests: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
