package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestRollout_Bake runs promotions with a bake (RolloutSpec.Bake) through a
// real gateway under load: a candidate that starts failing once it has all
// the traffic is rolled back during the bake, the baseline serving again
// with its labels and the candidate's stage as before the promotion; a
// healthy one is promoted when its bake ends. Without a bake the promotion
// ended the rollout, and the failing candidate kept every user until an
// operator noticed and ran undo.
func TestRollout_Bake(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rollouts under load for several seconds (skipped under -short)")
	}
	spec := func(bake time.Duration) sluice.RolloutSpec {
		return sluice.RolloutSpec{
			Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 20,
			Bake: sluice.BakeFor(bake),
			Analysis: sluice.AnalysisSpec{
				Interval: sluice.Duration(300 * time.Millisecond), MinSamples: 50, FailChecks: 2,
			},
			Warmup: sluice.WarmupSpec{Skip: true},
		}
	}
	// promoted starts the rollout, lets the canary take traffic, and
	// promotes it by hand.
	promoted := func(t *testing.T, bake time.Duration) (*server.Server, *api.Client, *fakellm.Server, func() sluice.Rollout) {
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{Seed: 7})
		gw, cl := startRolloutGatewayWith(t, "", func(c *config.Gateway) {
			c.OutlierEjection.Disabled = true // the bake, not the circuit breaker, is what this is about
		}, stable, cand)
		l := startLoad(t, gw.URL(), 4)
		ctx := context.Background()
		if _, err := cl.StartRollout(ctx, spec(bake), "bake test"); err != nil {
			t.Fatal(err)
		}
		waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)
		time.Sleep(time.Second) // the baseline's traffic before the promotion: the bake's reference
		r, err := cl.RolloutAction(ctx, "chat", "promote", "canary looks fine")
		if err != nil {
			t.Fatal(err)
		}
		if r.Phase != sluice.PhaseBaking || r.Percent != 100 {
			t.Fatalf("after promote: phase %s percent %v, want baking at 100", r.Phase, r.Percent)
		}
		m := gw.Control.Registry().Models["chat"]
		if m.Policy.String() != "specific v1.1.0" || m.Labels["stable"] != "v1.1.0" {
			t.Fatalf("while baking: policy %s, stable %s; want all traffic on v1.1.0, stable on it", m.Policy, m.Labels["stable"])
		}
		ended := func() sluice.Rollout {
			r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 60*time.Second)
			l.finish()
			if r.BakeBaseline[""].Requests == 0 {
				t.Errorf("bake reference %+v: want the baseline's requests before the promotion kept", r.BakeBaseline)
			}
			return r
		}
		return gw, cl, cand, ended
	}

	t.Run("FailingAtFullTrafficRollsBack", func(t *testing.T) {
		gw, _, cand, ended := promoted(t, time.Minute)
		time.Sleep(500 * time.Millisecond)
		cand.SetConfig(fakellm.Config{Seed: 7, Default: fakellm.Behavior{ErrorRate: 0.3}})
		r := ended()
		if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, "during the bake") || !strings.Contains(r.Decision, "error rate") {
			t.Fatalf("phase %s decision %q: want rolled back during the bake on the error rate", r.Phase, r.Decision)
		}
		if d := r.EndedAt.Sub(r.BakeFrom); d > 30*time.Second {
			t.Errorf("rolled back %s into a 1m bake", d)
		}
		// The promotion is undone: the baseline serves, stable names it
		// again, and the candidate is back in staging.
		reg := gw.Control.Registry()
		m := reg.Models["chat"]
		if m.Policy.String() != "specific v1.0.0" || m.Labels["stable"] != "v1.0.0" {
			t.Errorf("after the rollback: policy %s, stable %s; want v1.0.0 for both", m.Policy, m.Labels["stable"])
		}
		if v := reg.Version("chat", "v1.1.0"); v == nil || v.Stage != sluice.StageStaging {
			t.Errorf("candidate after the rollback: %+v, want back in staging", v)
		}
	})
	t.Run("PausedIsNotRolledBackUntilResumed", func(t *testing.T) {
		// An operator holds the bake (an incident elsewhere, a load
		// test): the candidate failing meanwhile is not rolled back, and
		// the bake's clock stops; resumed, a candidate still failing is.
		gw, cl, cand, ended := promoted(t, time.Minute)
		ctx := context.Background()
		time.Sleep(500 * time.Millisecond)
		r, err := cl.RolloutAction(ctx, "chat", "pause", "load test due")
		if err != nil {
			t.Fatalf("pause during the bake: %v", err)
		}
		if r.Phase != sluice.PhasePaused || r.PausedFrom != sluice.PhaseBaking || r.Percent != 100 {
			t.Fatalf("after pause: phase %s from %s percent %v; want paused from baking, all traffic on the candidate", r.Phase, r.PausedFrom, r.Percent)
		}
		pausedAt := r.PausedAt
		cand.SetConfig(fakellm.Config{Seed: 7, Default: fakellm.Behavior{ErrorRate: 0.3}})
		// The candidate fails a good share of its requests while paused:
		// more than enough for the bake's analysis to roll it back.
		for deadline := time.Now().Add(30 * time.Second); gw.Recorder.Window("chat", "v1.1.0", "", pausedAt).Errors < 100; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the candidate failed fewer than 100 requests in 30s of load")
			}
		}
		time.Sleep(2 * time.Second) // several analysis intervals (300ms)
		st, err := cl.Rollout(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if st.Rollout.Phase != sluice.PhasePaused {
			t.Fatalf("a paused bake's failing candidate: phase %s (%s); want still paused", st.Rollout.Phase, st.Rollout.Decision)
		}
		if m := gw.Control.Registry().Models["chat"]; m.Policy.String() != "specific v1.1.0" {
			t.Fatalf("while paused: policy %s, want all traffic still on v1.1.0", m.Policy)
		}
		if baked := st.Rollout.Baked(time.Now().Add(time.Hour)); baked > 10*time.Second {
			t.Errorf("baked %s by an hour from now while paused: the clock did not stop", baked)
		}
		if _, err := cl.RolloutAction(ctx, "chat", "resume", "load test over"); err != nil {
			t.Fatalf("resume: %v", err)
		}
		r = ended()
		if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, "during the bake") {
			t.Fatalf("resumed, still failing: phase %s decision %q; want rolled back during the bake", r.Phase, r.Decision)
		}
		if m := gw.Control.Registry().Models["chat"]; m.Policy.String() != "specific v1.0.0" || m.Labels["stable"] != "v1.0.0" {
			t.Errorf("after the rollback: policy %s, stable %s; want v1.0.0 for both", m.Policy, m.Labels["stable"])
		}
	})
	t.Run("HealthyIsPromotedWhenItEnds", func(t *testing.T) {
		_, _, _, ended := promoted(t, 2*time.Second)
		r := ended()
		if r.Phase != sluice.PhasePromoted || !strings.Contains(r.Decision, "baked for 2s") {
			t.Fatalf("phase %s decision %q: want promoted after its bake", r.Phase, r.Decision)
		}
		if r.EndedAt.Sub(r.BakeFrom) < 2*time.Second {
			t.Errorf("promoted %s after the bake began, before its 2s", r.EndedAt.Sub(r.BakeFrom))
		}
	})
}
