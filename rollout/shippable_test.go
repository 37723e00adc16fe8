package rollout

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestShippable: shipping a completed A/B test's candidate is refused when
// the routing is no longer what the test left, since the report no longer
// describes what shipping would change and shipping would discard the
// change. What counts as a change is what changes who is served what:
//
//   - a split's salt: rotating it moves users between the split's versions
//     (an operator rotating a cohort), and shipping ends the split; under
//     a policy with no split the salt routes no one, and shipping keeps it
//     on the model, so there it is no change;
//   - a pin of the baseline by hand: shipping would discard it as any
//     other change; only the pin restore itself makes, when the policy
//     from before (latest) would still pick the candidate, is what the
//     test left.
func TestShippable(t *testing.T) {
	split := func(salt string) sluice.Policy {
		return sluice.Policy{Kind: sluice.PolicySplit, Salt: salt, Split: []sluice.Weight{{Version: "v1", Percent: 90}, {Version: "v0", Percent: 10}}}
	}
	pin := func(v, salt string) sluice.Policy {
		return sluice.Policy{Kind: sluice.PolicySpecific, Version: v, Salt: salt}
	}
	latest := sluice.Policy{Kind: sluice.PolicyLatest}
	for _, c := range []struct {
		name      string
		prev, now sluice.Policy
		candStage sluice.Stage // v2's stage; staging when empty
		refused   []string     // words of the refusal; nil when shipping is allowed
	}{
		{name: "PinUnchanged", prev: pin("v1", ""), now: pin("v1", "")},
		{name: "SplitUnchanged", prev: split("S"), now: split("S")},
		{name: "SplitSaltRotated", prev: split("S"), now: split("T"), refused: []string{"changed after the test ended", "salt T", "salt S"}},
		{name: "SplitSaltSetWhereNoneWas", prev: split(""), now: split("T"), refused: []string{"salt T", "no salt"}},
		{name: "SplitWeightsChanged", prev: split("S"), now: sluice.Policy{Kind: sluice.PolicySplit, Salt: "S", Split: []sluice.Weight{{Version: "v1", Percent: 80}, {Version: "v0", Percent: 20}}}, refused: []string{"split v1=80 v0=20"}},
		// Under a pin the salt routes no one, and the promotion keeps it.
		{name: "PinSaltChanged", prev: pin("v1", "S"), now: pin("v1", "T")},
		{name: "LatestUnchanged", prev: latest, now: latest},
		{name: "BaselinePinnedByHand", prev: latest, now: pin("v1", ""), refused: []string{"specific v1", "the test left latest"}},
		{name: "OtherPinByHand", prev: pin("v1", ""), now: pin("v0", ""), refused: []string{"specific v0"}},
		// Latest would pick the candidate (production, the newest): restore
		// pinned the baseline, and that pin is what the test left.
		{name: "RestorePinnedTheBaseline", prev: latest, now: pin("v1", ""), candStage: sluice.StageProduction},
		{name: "RestorePinUndoneByHand", prev: latest, now: latest, candStage: sluice.StageProduction, refused: []string{"latest", "the test left specific v1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := sluice.NewRegistry()
			stage := c.candStage
			if stage == "" {
				stage = sluice.StageStaging
			}
			for tag, st := range map[string]sluice.Stage{"v0": sluice.StageProduction, "v1": sluice.StageProduction, "v2": stage} {
				reg.Versions["chat:"+tag] = &sluice.Version{Model: "chat", Version: tag, Stage: st, Endpoints: []string{"http://127.0.0.1:1"}}
			}
			reg.Models["chat"] = &sluice.Model{Name: "chat", Policy: c.now, Labels: map[string]string{"stable": "v1"}}
			r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseCompleted, PreviousPolicy: c.prev,
				Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyABTest}}
			err := shippable(reg, r)
			if c.refused == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if sluice.ErrorCode(err) != sluice.CodeConflict {
				t.Fatalf("got %v, want a conflict", err)
			}
			for _, w := range c.refused {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q lacks %q", err, w)
				}
			}
		})
	}
}
