package main

import (
	"strings"
	"testing"
)

// What the user does: aborts, promotes or pauses the rollout of a model
// name with a typo, one that is not registered.
// What must happen: the error says the model is not registered, as
// rollout status says. It said "model chta has no rollout: start one with
// sluice rollout start chta --to VERSION", advice that cannot work.
func TestRollout_ActOnUnknownModel(t *testing.T) {
	_, _, cmd := readmeGateway(t)
	for _, act := range []string{"abort", "promote", "pause", "resume", "undo"} {
		_, stderr, code := run(t, cmd("rollout", act, "chta", "--reason", "typo")...)
		if want := `model "chta" is not registered: list models with sluice get models`; code == 0 || !strings.Contains(stderr, want) || strings.Contains(stderr, "rollout start chta") {
			t.Errorf("rollout %s chta: exit %d, stderr %q; want %q", act, code, stderr, want)
		}
	}
}

// What the user does: runs sluice rollout undo on a rollout still under way,
// to stop it.
// What must happen: the error says undo reverts a promotion and names the
// command that stops a rollout under way (abort). It said only "cannot
// undo rollout chat-…: it is progressing".
func TestRollout_UndoUnderWaySaysAbort(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "register")...)
	mustRun(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--skip-warmup", "--reason", "canary")...)
	_, stderr, code := run(t, cmd("rollout", "undo", "chat", "--reason", "stop it")...)
	for _, want := range []string{"cannot undo rollout chat-", "undo reverts a promotion", `sluice rollout abort chat --reason "…"`} {
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("rollout undo of a rollout under way: exit %d, stderr %q; want %q", code, stderr, want)
		}
	}
}
