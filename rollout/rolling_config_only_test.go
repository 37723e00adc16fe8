package rollout_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestController_RollingOnlyForConfigChanges: the planner picks rolling
// (all traffic at once, no analysis) only when the weights did not change;
// forced with --strategy on a candidate with other weights, it promoted a
// new model to every user unmeasured. It is refused, saying which strategy
// to use, and nothing starts; a config-only change still rolls.
func TestController_RollingOnlyForConfigChanges(t *testing.T) {
	t.Run("ErrNewWeights", func(t *testing.T) {
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
		e.edit(t, func(ed *sluice.Edit) error {
			_, err := ed.RegisterVersion(sluice.Version{Model: "chat", Version: "v3", Endpoints: []string{"http://127.0.0.1:3"}, Stage: sluice.StageStaging, WeightHash: "other", BaseModel: "llama-3-8b"})
			return err
		})
		for _, cand := range []string{"v2", "v3"} {
			_, err := e.c.Start(e.ctx, "alice", "ship", sluice.RolloutSpec{Model: "chat", Candidate: cand, Strategy: sluice.StrategyRolling})
			if sluice.ErrorCode(err) != sluice.CodeInvalid {
				t.Fatalf("rolling to %s (new weights) = %v, want CodeInvalid", cand, err)
			}
			msg := sluice.ErrorMessage(err)
			for _, want := range []string{"config-only", "--strategy progressive", "sluice plan chat " + cand, "weight_hash"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
		}
		e.c.Wait()
		reg := e.ctl.Registry()
		if r := reg.Rollouts["chat"]; r != nil {
			t.Errorf("a refused rolling rollout still started: %s %s", r.ID, r.Phase)
		}
		if p := reg.Models["chat"].Policy; p.Version != "v1" {
			t.Errorf("after the refusals chat's policy is %s, want specific v1", p)
		}
	})
	t.Run("OK", func(t *testing.T) {
		e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
		e.edit(t, func(ed *sluice.Edit) error {
			for _, v := range []sluice.Version{
				{Model: "chat", Version: "v3", Endpoints: []string{"http://127.0.0.1:3"}, Stage: sluice.StageProduction, WeightHash: "h"},
				{Model: "chat", Version: "v4", Endpoints: []string{"http://127.0.0.1:4"}, Stage: sluice.StageStaging, WeightHash: "h"},
			} {
				if _, err := ed.RegisterVersion(v); err != nil {
					return err
				}
			}
			return nil
		})
		if _, err := e.c.Start(e.ctx, "alice", "new batch size", sluice.RolloutSpec{Model: "chat", Candidate: "v4", Baseline: "v3", Strategy: sluice.StrategyRolling}); err != nil {
			t.Fatalf("rolling a config-only change: %v", err)
		}
		e.c.Wait()
		if r := e.ctl.Registry().Rollouts["chat"]; r == nil || r.Phase != sluice.PhasePromoted {
			t.Errorf("config-only rolling rollout = %+v, want promoted", r)
		}
	})
}
