package main

import (
	"strings"
	"testing"
)

// TestCLI_LogsSuggestsRequests: an engineer coming from LiteLLM (whose UI
// calls the request log "Logs") looks up which version served a request
// with `sluice logs`, and was told only that the command is unknown. The
// request log is `sluice requests`; the refusal now names it.
func TestCLI_LogsSuggestsRequests(t *testing.T) {
	for _, name := range []string{"logs", "log"} {
		_, errOut, code := run(t, name, "--id", "req_1")
		if code == 0 || !strings.Contains(errOut, "Did you mean this?") || !strings.Contains(errOut, "requests") {
			t.Errorf("sluice %s: exit %d, %q; want a refusal suggesting sluice requests", name, code, errOut)
		}
	}
}
