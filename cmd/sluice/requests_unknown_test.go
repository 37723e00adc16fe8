package main

import (
	"strings"
	"testing"
)

// TestCLI_RequestsUnknownName: `sluice requests chat --version v9` printed
// an empty table, as for a version that served nothing, when v9 was a typo.
func TestCLI_RequestsUnknownName(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	t.Run("ErrUnknownVersion", func(t *testing.T) {
		wantFailure(t, cmd("requests", "chat", "--version", "v9"), "chat:v9 is not registered", "sluice get versions chat")
		wantFailure(t, cmd("requests", "--version", "v9"), "no model has a version v9", "sluice get versions")
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		wantFailure(t, cmd("requests", "nomodel"), `model "nomodel" is not registered`, "sluice get models")
	})
	t.Run("NoRequests", func(t *testing.T) {
		// A registered version without requests: an empty table, and a
		// note saying nothing matched.
		out, errOut, code := run(t, cmd("requests", "chat", "--version", "v1.2.0")...)
		if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "no requests of chat:v1.2.0 match") {
			t.Errorf("registered version, no requests: exit %d\n%s\n%s", code, out, errOut)
		}
	})
}
