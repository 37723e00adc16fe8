package main

import (
	"strings"
	"testing"
)

// TestCLI_LastAdminTokenKept: deleting the last admin token would leave no
// one able to administer the gateway (short of editing the config file and
// restarting it); it is refused until another admin token exists.
func TestCLI_LastAdminTokenKept(t *testing.T) {
	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	_, errOut, code := run(t, cmd("token", "delete", "bootstrap-admin", "--reason", "rotate")...)
	if code == 0 || !strings.Contains(errOut, "last admin token") {
		t.Fatalf("deleting the last admin token: exit %d, %s", code, errOut)
	}
	out := mustRun(t, cmd("token", "create", "ops", "--role", "admin", "--reason", "rotate")...)
	if !strings.Contains(out, "slk_") {
		t.Fatalf("token create: %s", out)
	}
	mustRun(t, cmd("token", "delete", "bootstrap-admin", "--reason", "rotate")...)
}
