package rollout_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_StableLabelNotServing: the stable label is left on v2 by
// an earlier promotion, and an operator has since pinned the model back to
// v1 by hand. A rollout of v3 without --from took its baseline from the
// label and set the split v2=90 v3=10, moving all the model's traffic, not
// only the canary's tenth, off v1 onto a version that served none of it; a
// fire drill did the same for its seconds. Both are now refused, naming
// the label, the serving version and what to do, and nothing is written;
// a baseline given explicitly is taken as given.
func TestController_StableLabelNotServing(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v2"}, nil)
	e.edit(t, func(ed *sluice.Edit) error {
		_, err := ed.RegisterVersion(sluice.Version{Model: "chat", Version: "v3", Endpoints: []string{"http://127.0.0.1:3"}, Stage: sluice.StageStaging})
		return err
	})
	rev := e.ctl.Registry().Revision

	t.Run("RolloutRefused", func(t *testing.T) {
		_, err := e.c.Start(e.ctx, "alice", "ship v3", sluice.RolloutSpec{Model: "chat", Candidate: "v3", Strategy: sluice.StrategyCanary})
		if err == nil {
			t.Fatalf("rollout from the stable label's v2, which serves nothing, started; routing now %s", e.ctl.Registry().Models["chat"].Policy)
		}
		if sluice.ErrorCode(err) != sluice.CodeConflict {
			t.Errorf("code %s, want %s", sluice.ErrorCode(err), sluice.CodeConflict)
		}
		for _, want := range []string{"stable label names v2", "serves v1", "sluice label chat stable=v1", "--from v1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("DrillRefused", func(t *testing.T) {
		sent := 0
		_, err := e.c.Drill(e.ctx, "alice", "drill", "chat", "v3", 5, func(context.Context, string) (string, error) {
			sent++
			return "chat:v1", nil
		})
		if err == nil || !strings.Contains(err.Error(), "stable label names v2") {
			t.Fatalf("drill against the stable label's v2, which serves nothing: err %v, want a refusal naming the label", err)
		}
		if sent != 0 {
			t.Errorf("refused drill sent %d requests", sent)
		}
	})
	if reg := e.ctl.Registry(); reg.Revision != rev || reg.Models["chat"].Policy.String() != "specific v1" || reg.Rollouts["chat"] != nil {
		t.Fatalf("refused starts changed the registry: revision %d → %d, policy %s, rollout %+v", rev, reg.Revision, reg.Models["chat"].Policy, reg.Rollouts["chat"])
	}

	t.Run("ExplicitBaseline", func(t *testing.T) {
		r := e.startLive(t, sluice.RolloutSpec{Candidate: "v3", Baseline: "v1", Strategy: sluice.StrategyCanary})
		if r.Spec.Baseline != "v1" {
			t.Fatalf("baseline %s, want v1", r.Spec.Baseline)
		}
		if got := e.ctl.Registry().Models["chat"].Policy.String(); got != "split v1=90 v3=10" {
			t.Errorf("policy %s, want split v1=90 v3=10", got)
		}
		e.act(t, rollout.EvAbort, "done")
	})
}
