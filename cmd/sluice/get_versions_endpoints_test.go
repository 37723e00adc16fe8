package main

import (
	"os"
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

// TestCLI_GetVersionsRedactsEndpointsInTheTable: an admin's answer holds
// an endpoint's credentials, and the table printed them in the clear, to
// screens and CI logs. The table now redacts them; -o json keeps them.
func TestCLI_GetVersionsRedactsEndpointsInTheTable(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	withCreds := strings.Replace(string(raw), "http://127.0.0.1:", "http://svc:hunter2@127.0.0.1:", 1)
	if withCreds == string(raw) {
		t.Fatal("the README's model file names no http://127.0.0.1: endpoint")
	}
	if err := os.WriteFile(file, []byte(withCreds), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, cmd("apply", "-f", file, "--reason", "r")...)
	if out := mustRun(t, cmd("get", "versions", "chat")...); strings.Contains(out, "hunter2") || !strings.Contains(out, "REDACTED@") {
		t.Errorf("the table shows the endpoint's password, or no redaction:\n%s", out)
	}
	if out := mustRun(t, cmd("get", "versions", "chat", "-o", "json")...); !strings.Contains(out, "svc:hunter2@") {
		t.Errorf("-o json, for an admin, lost the endpoint's credentials:\n%s", out)
	}
}
