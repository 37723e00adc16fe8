package rollout_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestUndoUnderPolicyLatestMovesTrafficBack: a model under policy
// latest (the default for a new model) is rolled out to v2 and promoted;
// undo says "traffic back on the routing from before the rollout" and
// restored policy latest, but the promotion moved v2 to production and the
// undo left it there, so latest still resolved to v2: all traffic stayed
// on the version the operator undid. Now the model is pinned to v1.
func TestUndoUnderPolicyLatestMovesTrafficBack(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicyLatest}, map[string]string{"stable": "v1"}, nil)
	if got := e.ctl.Registry().ServingVersions("chat"); !slices.Equal(got, []string{"v1"}) {
		t.Fatalf("before the rollout chat serves %v, want [v1]", got)
	}
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.act(t, rollout.EvPromote, "")
	e.clock.Add(time.Hour)
	u := e.act(t, rollout.EvUndo, "bad reviews")
	if u.Phase != sluice.PhaseUndone {
		t.Fatalf("phase %s", u.Phase)
	}
	reg := e.ctl.Registry()
	if got := reg.ServingVersions("chat"); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("after undo chat serves %v (policy %s; v2 stage %s), want [v1] as before the rollout",
			got, reg.Models["chat"].Policy, reg.Versions["chat:v2"].Stage)
	}
}

// TestUndoAfterNewerManualChange: after a promotion an operator
// changes the routing by hand (a hotfix v3 pinned). An undo within the
// window silently put back the routing from before the rollout, discarding
// the newer change; it is refused (conflict).
func TestUndoAfterNewerManualChange(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.act(t, rollout.EvPromote, "")
	e.clock.Add(time.Hour)
	e.edit(t, func(ed *sluice.Edit) error {
		if _, err := ed.RegisterVersion(sluice.Version{Model: "chat", Version: "v3", Endpoints: []string{"http://127.0.0.1:3"}, Stage: sluice.StageProduction}); err != nil {
			return err
		}
		return ed.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v3"})
	})
	e.clock.Add(time.Hour)
	_, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvUndo, "v2 bad")
	if err != nil {
		if sluice.ErrorCode(err) == sluice.CodeConflict {
			return // refused: fine
		}
		t.Fatal(err)
	}
	if p := e.ctl.Registry().Models["chat"].Policy; p.Version != "v3" {
		t.Errorf("undo of the v2 rollout replaced the later hand-made policy (specific v3) with %s, without refusing or saying so", p)
	}
}

// TestUndoLeavesPercent: after an undo the candidate takes no
// traffic, yet the rollout (and so sluice_rollout_candidate_percent and
// the timeline's "undone" event) said 100%.
func TestUndoLeavesPercent(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.act(t, rollout.EvPromote, "")
	u := e.act(t, rollout.EvUndo, "bad reviews")
	if last := u.Events[len(u.Events)-1]; u.Percent != 0 || last.Percent != 0 {
		t.Errorf("after undo the rollout says the candidate has %v%% (event %q at %v%%); the routing gives it 0", u.Percent, last.Kind, last.Percent)
	}
}
