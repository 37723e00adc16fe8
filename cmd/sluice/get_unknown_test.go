package main

import (
	"strings"
	"testing"
)

// TestCLI_GetUnknown: `sluice get routes nomodel` answered `unknown command
// "nomodel"`, naming neither the model nor the commands that exist.
func TestCLI_GetUnknown(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	t.Run("RoutesOfOneModel", func(t *testing.T) {
		out := mustRun(t, cmd("get", "routes", "chat")...)
		if !strings.HasPrefix(out, "chat  policy: split") {
			t.Errorf("get routes chat:\n%s", out)
		}
		out = mustRun(t, cmd("get", "routes", "chat", "-o", "json")...)
		if !strings.Contains(out, `"name":"chat"`) && !strings.Contains(out, `"name": "chat"`) {
			t.Errorf("get routes chat -o json:\n%s", out)
		}
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		wantFailure(t, cmd("get", "routes", "nomodel"), `model "nomodel" is not registered`, "sluice get models")
	})
	t.Run("ErrUnknownSubcommand", func(t *testing.T) {
		wantFailure(t, cmd("get", "route", "chat"), `unknown command "route" for "sluice get"`, "did you mean routes?", "models, routes, versions")
	})
	t.Run("ErrModelsTakesNoModel", func(t *testing.T) {
		wantFailure(t, cmd("get", "models", "chat"), "sluice get models takes no model", "sluice get routes chat", "sluice get versions chat")
	})
}
