package rollout_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestRollbackLeavesCandidateWeight: the README promises that on a
// rollback "the candidate's weight goes to 0 in the live routing table in
// the same transaction that records the rollback". When the model's
// routing before the rollout already gave the candidate a share (an
// operator's informal 10% canary, then a formal rollout), ActRestore put
// that split back: the rolled-back candidate kept 10% of the traffic, and
// the unload webhook was told to unload a version that still serves.
func TestRollbackLeavesCandidateWeight(t *testing.T) {
	var mu sync.Mutex
	out := ""
	var unloaded []string
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySplit, Split: []sluice.Weight{{Version: "v1", Percent: 90}, {Version: "v2", Percent: 10}}},
		map[string]string{"stable": "v1"}, func(o *rollout.Options) {
			o.OutOfService = func(id string) string {
				mu.Lock()
				defer mu.Unlock()
				if id == "chat:v2" {
					return out
				}
				return ""
			}
			o.Unload = func(_ context.Context, v *sluice.Version) error {
				mu.Lock()
				unloaded = append(unloaded, v.ID())
				mu.Unlock()
				return nil
			}
		})
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 20})
	mu.Lock()
	out = "ejected by outlier detection: 5 failed requests in a row"
	mu.Unlock()
	e.c.Step(e.ctx)
	reg := e.ctl.Registry()
	if p := reg.Rollouts["chat"].Phase; p != sluice.PhaseRolledBack {
		t.Fatalf("phase %s, want rolled_back", p)
	}
	if serving := reg.ServingVersions("chat"); slices.Contains(serving, "v2") {
		t.Errorf("after the rollback the candidate still serves: policy %s (unload webhook called for %v)", reg.Models["chat"].Policy, unloaded)
	}
}

// TestAbortDropsHandMadeLabel: during a rollout an operator points a
// new label at the baseline (chat@batch → v1) for an unrelated client. The
// abort restored the labels from before the rollout wholesale, so the label
// vanished and chat@batch stopped resolving. A promotion keeps it (ActPromote
// edits the live labels), and the fire drill is documented to keep edits
// made meanwhile; a rollback or abort should too.
func TestAbortDropsHandMadeLabel(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.edit(t, func(ed *sluice.Edit) error { return ed.SetLabel("chat", "batch", "v1") })
	e.act(t, rollout.EvAbort, "wrong build")
	if got := e.ctl.Registry().Models["chat"].Labels["batch"]; got != "v1" {
		t.Errorf("label batch made during the rollout is %q after the abort, want v1 (labels now %v)", got, e.ctl.Registry().Models["chat"].Labels)
	}
}
