package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
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
			Bake: sluice.Duration(bake),
			Analysis: sluice.AnalysisSpec{
				Interval: sluice.Duration(300 * time.Millisecond), MinSamples: 50, FailChecks: 2,
			},
			Warmup: sluice.WarmupSpec{Skip: true},
		}
	}
	// promoted starts the rollout, lets the canary take traffic, and
	// promotes it by hand.
	promoted := func(t *testing.T, bake time.Duration) (*server.Server, *fakellm.Server, func() sluice.Rollout) {
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
		return gw, cand, ended
	}

	t.Run("FailingAtFullTrafficRollsBack", func(t *testing.T) {
		gw, cand, ended := promoted(t, time.Minute)
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
	t.Run("HealthyIsPromotedWhenItEnds", func(t *testing.T) {
		_, _, ended := promoted(t, 2*time.Second)
		r := ended()
		if r.Phase != sluice.PhasePromoted || !strings.Contains(r.Decision, "baked for 2s") {
			t.Fatalf("phase %s decision %q: want promoted after its bake", r.Phase, r.Decision)
		}
		if r.EndedAt.Sub(r.BakeFrom) < 2*time.Second {
			t.Errorf("promoted %s after the bake began, before its 2s", r.EndedAt.Sub(r.BakeFrom))
		}
	})
}
