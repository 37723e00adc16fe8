package main

import (
	"strings"
	"testing"
)

// TestCLI_UnknownToken: a deleted token got the server's answer for HTTP
// clients ("send Authorization: Bearer <token>"); a CLI user is told which
// of the CLI's token sources to fix.
func TestCLI_UnknownToken(t *testing.T) {
	gw, _, cmd := readmeGateway(t)
	out := mustRun(t, cmd("token", "create", "ci", "--role", "viewer", "--reason", "ci")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	mustRun(t, cmd("token", "delete", "ci", "--reason", "rotated")...)
	t.Run("Flag", func(t *testing.T) {
		// Given last, the flag wins over cmd's.
		wantFailure(t, append(cmd("get", "models"), "--token", secret), "the token given with --token is not known to the server at "+gw.AdminURL(), "SLUICE_TOKEN", "sluice token create")
	})
	t.Run("Environment", func(t *testing.T) {
		t.Setenv("SLUICE_TOKEN", secret)
		args := []string{"get", "models", "--server", gw.AdminURL()}
		wantFailure(t, args, "the token in SLUICE_TOKEN is not known", "export SLUICE_TOKEN=", "sluice token create")
		if _, errOut, _ := run(t, args...); strings.Contains(errOut, "Authorization: Bearer") {
			t.Errorf("a CLI user is told about HTTP headers: %s", errOut)
		}
	})
}
