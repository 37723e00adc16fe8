package main

import (
	"strings"
	"testing"
)

// wantFailure runs the CLI with args and wants exit 1 with every one of want
// on stderr.
func wantFailure(t *testing.T, args []string, want ...string) {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code == 0 {
		t.Errorf("sluice %s: exit 0, want 1\n%s", strings.Join(args, " "), out)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("sluice %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, errOut)
		}
	}
}

// TestCLI_LimitOutOfRange: a --limit of 0 or less was left out of the
// query, and the server answered with its own default of 1,000 rows (ten
// times the CLI's) instead of the refusal a limit past 10,000 got.
func TestCLI_LimitOutOfRange(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	for _, n := range []string{"0", "-1", "10001"} {
		wantFailure(t, cmd("requests", "chat", "--limit", n), "--limit "+n+" is out of range", "use 1 to 10000")
		wantFailure(t, cmd("audit", "chat", "--limit", n), "--limit "+n+" is out of range", "use 1 to 10000")
	}
}
