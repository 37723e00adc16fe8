package rollout_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// addV3 registers chat:v3 in production, which the tests below point the
// routing from before the rollout at, and retire during it.
func addV3(t *testing.T, e *rvEnv) {
	t.Helper()
	e.edit(t, func(ed *sluice.Edit) error {
		_, err := ed.RegisterVersion(sluice.Version{Model: "chat", Version: "v3", Endpoints: []string{"http://127.0.0.1:3"}, Stage: sluice.StageProduction})
		return err
	})
}

// TestRollback_PreviewFromBeforeRetired: a blue-green rollout moves the
// preview label to the candidate; its rollback puts back the version the
// label named before. When that version was retired meanwhile (nothing
// named it any more, so nothing stopped that), putting it back broke the
// model's validation and the rollback itself failed: the candidate kept
// its place. The rollback must go through, the label dropped rather than
// pointed at a version that cannot serve.
func TestRollback_PreviewFromBeforeRetired(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	addV3(t, e)
	e.edit(t, func(ed *sluice.Edit) error { return ed.SetLabel("chat", "preview", "v3") })
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyBlueGreen})
	if got := e.ctl.Registry().Models["chat"].Labels["preview"]; got != "v2" {
		t.Fatalf("during the blue-green rollout preview is %q, want v2", got)
	}
	e.edit(t, func(ed *sluice.Edit) error { return ed.SetStage("chat:v3", sluice.StageRetired, time.Time{}) })
	r, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvAbort, "bad answers")
	if err != nil {
		t.Fatalf("abort: %v", err)
	}
	if r.Phase != sluice.PhaseAborted {
		t.Fatalf("after the abort the rollout is %s, want aborted", r.Phase)
	}
	m := e.ctl.Registry().Models["chat"]
	if got, ok := m.Labels["preview"]; ok {
		t.Errorf("after the abort preview = %q, want it dropped (v3, its old target, is retired)", got)
	}
	if m.Policy.Kind != sluice.PolicySpecific || m.Policy.Version != "v1" {
		t.Errorf("after the abort the policy is %s, want specific v1", m.Policy)
	}
}

// TestRollback_SplitMemberFromBeforeRetired: the split from before the
// rollout (v1 60, v3 40) comes back on a rollback; a member retired during
// the rollout cannot, and its share goes to the baseline, as the
// candidate's does, instead of failing the rollback.
func TestRollback_SplitMemberFromBeforeRetired(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	addV3(t, e)
	e.edit(t, func(ed *sluice.Edit) error {
		return ed.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: 60}, {Version: "v3", Percent: 40}})
	})
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.edit(t, func(ed *sluice.Edit) error { return ed.SetStage("chat:v3", sluice.StageRetired, time.Time{}) })
	r, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvAbort, "bad answers")
	if err != nil {
		t.Fatalf("abort: %v", err)
	}
	if r.Phase != sluice.PhaseAborted {
		t.Fatalf("after the abort the rollout is %s, want aborted", r.Phase)
	}
	p := e.ctl.Registry().Models["chat"].Policy
	if p.Kind != sluice.PolicySplit || len(p.Split) != 1 || p.Split[0].Version != "v1" || p.Split[0].Percent != 100 {
		t.Errorf("after the abort the policy is %s, want split v1=100 (v3's share to the baseline)", p)
	}
}

// TestRollback_SpecificFromBeforeRetired: a policy that pinned a version
// retired during the rollout comes back as the baseline.
func TestRollback_SpecificFromBeforeRetired(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	addV3(t, e)
	e.edit(t, func(ed *sluice.Edit) error {
		return ed.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v3"})
	})
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Baseline: "v1"})
	e.edit(t, func(ed *sluice.Edit) error { return ed.SetStage("chat:v3", sluice.StageRetired, time.Time{}) })
	r, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvAbort, "bad answers")
	if err != nil {
		t.Fatalf("abort: %v", err)
	}
	p := e.ctl.Registry().Models["chat"].Policy
	if r.Phase != sluice.PhaseAborted || p.Kind != sluice.PolicySpecific || p.Version != "v1" {
		t.Errorf("after the abort: rollout %s, policy %s; want aborted and specific v1 (the baseline)", r.Phase, p)
	}
}
