package main

import (
	"strings"
	"testing"
	"time"
)

// TestCLI_AuditAtFuture: `sluice audit --at` an hour ahead printed today's
// routing as what served then, with an empty request window: nothing has
// been served at a time still to come. The server refuses it now (422, api
// TestAuditAt_FutureRefused), and the CLI passes its answer on.
func TestCLI_AuditAtFuture(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	wantFailure(t, cmd("audit", "--at", at, "chat"), "at "+at+" is in the future", "the server's clock reads", "sluice get routes chat")
	wantFailure(t, cmd("audit", "--at", at, "chat", "-o", "json"), "is in the future")
	// Now is answered: the model was created before it.
	out := mustRun(t, cmd("audit", "--at", time.Now().UTC().Format(time.RFC3339Nano), "chat")...)
	if !strings.Contains(out, "policy: split v1.1.0=95 v1.2.0=5") {
		t.Errorf("audit --at now:\n%s", out)
	}
}
