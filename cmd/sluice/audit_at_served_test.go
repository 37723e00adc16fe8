package main

import (
	"strings"
	"testing"
	"time"
)

// What the user does: asks which version served chat at a time, the
// README's "which version answered this user at 14:00?".
// What must happen: the versions read as a list, "served by: v1.1.0,
// v1.2.0"; it printed Go's slice syntax, "served by: [v1.1.0 v1.2.0]".
func TestCLI_AuditAtListsTheVersions(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "r")...)
	out := mustRun(t, cmd("audit", "--at", time.Now().UTC().Add(30*time.Second).Format(time.RFC3339), "chat")...)
	if !strings.Contains(out, "  served by: v1.1.0, v1.2.0\n") {
		t.Errorf("sluice audit --at: want \"served by: v1.1.0, v1.2.0\":\n%s", out)
	}
}
