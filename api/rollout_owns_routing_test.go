package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/sluicehq/sluice"
)

// mustLiveRollout puts a progressive rollout of chat from v1.1.0 to v1.2.0
// at 10% in the store, with the split it sets, as the controller leaves
// it after its first stage.
func (e *env) mustLiveRollout(tb testing.TB, phase sluice.Phase) sluice.Rollout {
	tb.Helper()
	ro := sluice.Rollout{
		ID: "chat-1", Phase: phase, Percent: 10, StartedAt: t0, StageStartedAt: t0,
		Spec:           sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Baseline: "v1.1.0", Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{{Percent: 10}, {Percent: 100}}},
		PreviousPolicy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.1.0"},
	}
	if phase == sluice.PhasePaused {
		ro.PausedFrom = sluice.PhaseProgressing
	}
	_, err := e.Ctl.Do(context.Background(), "test", "test setup", func(ed *sluice.Edit) error {
		if err := ed.SetSplit("chat", []sluice.Weight{{Version: "v1.1.0", Percent: 90}, {Version: "v1.2.0", Percent: 10}}); err != nil {
			return err
		}
		return ed.PutRollout(ro)
	})
	if err != nil {
		tb.Fatalf("seed rollout: %v", err)
	}
	return ro
}

// TestSetSplit_RefusedDuringRollout: a split or policy set by hand on a
// model whose rollout is under way was accepted: the rollout's status still
// said candidate 10% while 80% served, its next stage overwrote the hand
// split, and an abort put back the routing from before the rollout. The
// rollout owns the policy until it ends, paused or not; the refusal names
// the rollout and the ways to end it, and changes nothing.
func TestSetSplit_RefusedDuringRollout(t *testing.T) {
	for _, phase := range []sluice.Phase{sluice.PhaseProgressing, sluice.PhasePaused} {
		t.Run(string(phase), func(t *testing.T) {
			ctx := context.Background()
			e := MustEnv(t)
			e.MustSeed(t)
			e.mustLiveRollout(t, phase)
			before, _ := e.Store.LoadRegistry(ctx)
			for _, c := range []struct{ path, body string }{
				{"/admin/v1/models/chat/split", `{"weights":[{"version":"v1.1.0","percent":20},{"version":"v1.2.0","percent":80}],"reason":"more canary"}`},
				{"/admin/v1/models/chat/policy", `{"policy":{"kind":"specific","version":"v1.1.0"},"reason":"pin in an incident"}`},
				{"/admin/v1/models/chat/policy", `{"policy":{"kind":"off"},"reason":"out of service"}`},
			} {
				r := e.do(t, "PUT", c.path, operatorSecret, []byte(c.body))
				r.want(t, http.StatusConflict, "rollout chat-1", "sluice rollout abort chat", "sluice rollout promote chat", "pausing it is not enough")
			}
			after, _ := e.Store.LoadRegistry(ctx)
			if after.Revision != before.Revision {
				t.Errorf("refused changes still committed: revision %d → %d", before.Revision, after.Revision)
			}
			if got := after.Models["chat"].Policy.Split; len(got) != 2 || got[1].Percent != 10 {
				t.Errorf("split after refusals = %v, want the rollout's 90/10", got)
			}
		})
	}
}

// TestSetSplit_OpenOutsideRollout: what does not change who serves the
// model's traffic stays open during a rollout (labels, rules, stages), and
// the policy is open again once the rollout has ended.
func TestSetSplit_OpenOutsideRollout(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	e.mustLiveRollout(t, sluice.PhaseProgressing)
	if _, err := e.Oper.SetLabel(ctx, "chat", "beta", "v1.2.0", "beta testers"); err != nil {
		t.Errorf("label during a rollout: %v", err)
	}
	if _, err := e.Oper.SetRules(ctx, "chat", []sluice.Rule{{Header: "X-Segment", Values: []string{"beta"}, Version: "v1.2.0"}}, "beta header"); err != nil {
		t.Errorf("rules during a rollout: %v", err)
	}
	if _, err := e.Oper.SetStage(ctx, "chat:v1.0.0", sluice.StageDeprecated, t0.AddDate(0, 1, 0), "old"); err != nil {
		t.Errorf("stage during a rollout: %v", err)
	}
	// A file applied again (a GitOps loop) keeps the rollout's routing, as
	// before, and says so.
	res, err := e.Admin.Apply(ctx, sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.1.0"}}}}, "gitops", false)
	if err != nil || !slices.Contains(res.Kept, "chat") {
		t.Errorf("apply during a rollout = %+v, %v; want it accepted with chat's routing kept", res, err)
	}
	if _, err := e.Oper.RolloutAction(ctx, "chat", "abort", "stop it"); err != nil {
		t.Fatalf("abort: %v", err)
	}
	if _, err := e.Oper.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.1.0", Percent: 20}, {Version: "v1.2.0", Percent: 80}}, "", "by hand now"); err != nil {
		t.Errorf("split after the abort: %v", err)
	}
}
