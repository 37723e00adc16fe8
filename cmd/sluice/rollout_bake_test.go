package main

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestCLI_RolloutBake: `sluice rollout start --bake 30m` keeps a promoted
// rollout running and watched for that long; `rollout status` says so, with
// how far the bake is and the two ways out, and `rollout undo` during it
// puts the baseline back at once. A --bake that is not a positive duration
// is refused, and nothing starts.
func TestCLI_RolloutBake(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	for _, bad := range []string{"soon", "0s", "-5m"} {
		_, errOut, code := run(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--bake", bad, "--reason", "try")...)
		if code == 0 || !strings.Contains(errOut, "--bake") || !strings.Contains(errOut, "such as 15m") {
			t.Errorf("--bake %s: exit %d, %q; want refused, saying what to give", bad, code, errOut)
		}
		if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
			t.Fatalf("a refused start left rollout %s live", r.ID)
		}
	}

	mustRun(t, cmd("rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--bake", "30m", "--skip-warmup", "--reason", "canary, then a bake")...)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if r := gw.Control.Registry().ActiveRollout("chat"); r != nil && r.Phase == sluice.PhaseProgressing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the canary did not go live in 20s")
		}
	}
	mustRun(t, cmd("rollout", "promote", "chat", "--reason", "canary looks fine")...)
	out := mustRun(t, cmd("rollout", "status", "chat")...)
	for _, want := range []string{"Phase:     baking", "Bake:", "of 30m0s", "Next:      sluice rollout promote chat --reason \"…\" (end the bake now), or sluice rollout undo chat"} {
		if !strings.Contains(out, want) {
			t.Errorf("status while baking lacks %q:\n%s", want, out)
		}
	}
	if m := gw.Control.Registry().Models["chat"]; m.Labels["stable"] != "v1.2.0" {
		t.Errorf("while baking, stable is %s: the promotion moves it", m.Labels["stable"])
	}
	// Paused, the bake says so and what is left, and the ways on and out.
	mustRun(t, cmd("rollout", "pause", "chat", "--reason", "load test due")...)
	out = mustRun(t, cmd("rollout", "status", "chat")...)
	for _, want := range []string{"Phase:     paused", "Bake:", "of 30m0s, paused with ", "left: all traffic stays on the candidate",
		"Next:      sluice rollout resume chat --reason \"…\" (the bake goes on: ", "sluice rollout promote chat --reason \"…\" (end the bake now)", "sluice rollout undo chat"} {
		if !strings.Contains(out, want) {
			t.Errorf("status while the bake is paused lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Hold:") {
		t.Errorf("status while the bake is paused shows a stage's hold:\n%s", out)
	}
	mustRun(t, cmd("rollout", "resume", "chat", "--reason", "load test over")...)
	if r := gw.Control.Registry().ActiveRollout("chat"); r == nil || r.Phase != sluice.PhaseBaking {
		t.Fatalf("after resume: %+v, want baking again", r)
	}
	mustRun(t, cmd("rollout", "undo", "chat", "--reason", "payments broke")...)
	reg := gw.Control.Registry()
	if r := reg.Rollouts["chat"]; r.Phase != sluice.PhaseUndone || r.EndedAt.IsZero() {
		t.Fatalf("after undo during the bake: phase %s, ended %v", r.Phase, r.EndedAt)
	}
	if m := reg.Models["chat"]; m.Labels["stable"] == "v1.2.0" || strings.Contains(m.Policy.String(), "v1.2.0") {
		t.Errorf("after undo: policy %s, stable %s; want the baseline back", m.Policy, m.Labels["stable"])
	}
}

// TestRenderRollout_BakeClockBehind: rollout status draws the bake's bar
// from the terminal's clock against the server's bake start. With the
// terminal's clock behind the server's (by 30 s, on a 10-minute bake) the
// share was negative and the bar's strings.Repeat panicked: sluice rollout
// status and watch crashed for the whole bake's first moments. The bar is
// empty then.
func TestRenderRollout_BakeClockBehind(t *testing.T) {
	from := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseBaking, Percent: 100, StartedAt: from.Add(-time.Hour), BakeFrom: from, StageStartedAt: from,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1.1.0", Candidate: "v1.2.0", Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(10 * time.Minute)}}
	out := renderRollout(api.RolloutStatus{Rollout: r}, from.Add(-30*time.Second))
	if !strings.Contains(out, "Bake:      "+strings.Repeat("░", 30)) {
		t.Errorf("status with the terminal's clock behind: want an empty bar:\n%s", out)
	}
}

// TestRenderRollout_BakePaused: rollout status of a paused bake draws the
// time baked as the controller counts it (not the time since the
// promotion: the time paused does not count) and says what is left.
func TestRenderRollout_BakePaused(t *testing.T) {
	from := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	// Baked 4m, then paused at 3:04; read at 5:00.
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhasePaused, PausedFrom: sluice.PhaseBaking, PausedAt: from.Add(4 * time.Minute), HeldFor: sluice.Duration(4 * time.Minute),
		Percent: 100, StartedAt: from.Add(-time.Hour), BakeFrom: from, StageStartedAt: from,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1.1.0", Candidate: "v1.2.0", Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(10 * time.Minute)}}
	out := renderRollout(api.RolloutStatus{Rollout: r}, from.Add(2*time.Hour))
	for _, want := range []string{"Bake:      " + strings.Repeat("█", 12) + strings.Repeat("░", 18) + "  4m0s of 10m0s, paused with 6m0s left", "(the bake goes on: 6m0s left)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status of a bake paused at 4m lacks %q:\n%s", want, out)
		}
	}
}
