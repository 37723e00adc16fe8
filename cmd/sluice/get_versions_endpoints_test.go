package main

import (
	"strings"
	"testing"
)

// What the user does: a client was told "the backend for chat:v1.2.0
// cannot be reached"; the README says an operator finds the endpoint with
// sluice get versions.
// What must happen: the table lists each version's endpoints. It showed
// stage, upstream model, family, base, weights and creation time, and the
// endpoints only with -o json.
func TestCLI_GetVersionsShowsEndpoints(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "r")...)
	out := mustRun(t, cmd("get", "versions", "chat")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "ENDPOINTS") {
		t.Fatalf("get versions chat: want a header with ENDPOINTS and two rows:\n%s", out)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(l, "http://127.0.0.1:") {
			t.Errorf("row without its endpoint: %q", l)
		}
	}
}
