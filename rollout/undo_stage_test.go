package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestUndo_CandidateBackToItsStage: an undo restored the routing from
// before the rollout, but the version it had promoted kept stage
// production, so it looked released (and policy latest would pick it). It
// goes back to the stage the promotion took it from, recorded on the
// rollout at the promotion.
func TestUndo_CandidateBackToItsStage(t *testing.T) {
	for _, from := range []sluice.Stage{sluice.StageStaging, sluice.StageDevelopment, sluice.StageProduction} {
		t.Run(string(from), func(t *testing.T) {
			e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
			e.edit(t, func(ed *sluice.Edit) error { return ed.SetStage("chat:v2", from, time.Time{}) })
			e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
			p := e.act(t, rollout.EvPromote, "")
			if p.PromotedFrom != from {
				t.Errorf("promoted rollout records promoted_from %q, want %q", p.PromotedFrom, from)
			}
			if got := e.ctl.Registry().Versions["chat:v2"].Stage; got != sluice.StageProduction {
				t.Fatalf("after the promotion v2 is %s, want production", got)
			}
			e.clock.Add(time.Hour)
			e.act(t, rollout.EvUndo, "bad reviews")
			if got := e.ctl.Registry().Versions["chat:v2"].Stage; got != from {
				t.Errorf("after undo v2 is %s, want %s (its stage before the promotion)", got, from)
			}
		})
	}
}

// TestUndo_UnderPolicyLatestKeepsLatest: with the candidate back in
// staging, the restored policy latest picks the baseline again, so the
// model is no longer pinned to it as a stand-in.
func TestUndo_UnderPolicyLatestKeepsLatest(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicyLatest}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.act(t, rollout.EvPromote, "")
	e.act(t, rollout.EvUndo, "bad reviews")
	reg := e.ctl.Registry()
	if p := reg.Models["chat"].Policy; p.Kind != sluice.PolicyLatest {
		t.Errorf("after undo chat's policy is %s, want latest as before the rollout", p)
	}
	if got := reg.Versions["chat:v2"].Stage; got != sluice.StageStaging {
		t.Errorf("after undo v2 is %s, want staging", got)
	}
}

// TestUndo_StageMovedByHandStays: a stage set by hand after the promotion
// (v2 deprecated) is newer than the promotion, and the undo leaves it.
func TestUndo_StageMovedByHandStays(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.act(t, rollout.EvPromote, "")
	e.edit(t, func(ed *sluice.Edit) error { return ed.SetStage("chat:v2", sluice.StageDeprecated, time.Time{}) })
	e.act(t, rollout.EvUndo, "bad reviews")
	if got := e.ctl.Registry().Versions["chat:v2"].Stage; got != sluice.StageDeprecated {
		t.Errorf("after undo v2 is %s, want deprecated as set by hand after the promotion", got)
	}
}

// TestUndo_UnrecordedStageStaysAndSaysSo: a rollout promoted by a release
// that did not record the candidate's earlier stage is undone without a
// guess: the candidate stays production, and the decision says so and how
// to deprecate it.
func TestUndo_UnrecordedStageStaysAndSaysSo(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	p := e.act(t, rollout.EvPromote, "")
	e.edit(t, func(ed *sluice.Edit) error { p.PromotedFrom = ""; return ed.PutRollout(p) })
	u := e.act(t, rollout.EvUndo, "bad reviews")
	if got := e.ctl.Registry().Versions["chat:v2"].Stage; got != sluice.StageProduction {
		t.Errorf("after undo v2 is %s, want production (its earlier stage unknown)", got)
	}
	if !strings.Contains(u.Decision, "not recorded") || !strings.Contains(u.Decision, "sluice stage chat:v2 deprecated") {
		t.Errorf("decision %q does not say the earlier stage is unknown and how to deprecate v2", u.Decision)
	}
}
