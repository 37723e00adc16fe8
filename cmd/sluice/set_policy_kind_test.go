package main

import "testing"

// TestCLI_SetPolicyKind: `sluice set policy chat split` asked for a reason,
// then the server refused a split without weights, never pointing to
// `sluice set split`.
func TestCLI_SetPolicyKind(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	t.Run("ErrSplit", func(t *testing.T) {
		wantFailure(t, cmd("set", "policy", "chat", "split"), "sluice set split chat VERSION=PERCENT")
		wantFailure(t, cmd("set", "policy", "chat", "split", "--reason", "x"), "sluice set split chat VERSION=PERCENT")
	})
	t.Run("ErrUnknownKind", func(t *testing.T) {
		wantFailure(t, cmd("set", "policy", "chat", "bogus", "--reason", "x"), `policy "bogus" is not known`, "latest, all, specific VERSION or off", "sluice set split chat")
	})
}
