package main

import "testing"

// TestCLI_RolloutStatusUnknown: `sluice rollout status nomodel` said the
// model is not registered without saying what to do; a model without a
// rollout is told how to start one.
func TestCLI_RolloutStatusUnknown(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	t.Run("ErrUnknownModel", func(t *testing.T) {
		wantFailure(t, cmd("rollout", "status", "nomodel"), `model "nomodel" is not registered`, "sluice get models")
		wantFailure(t, cmd("plan", "nomodel", "v1.2.0"), `model "nomodel" is not registered`, "sluice get models")
	})
	t.Run("ErrNoRollout", func(t *testing.T) {
		wantFailure(t, cmd("rollout", "status", "chat"), "has no rollout", "sluice rollout start chat --to VERSION")
	})
}
