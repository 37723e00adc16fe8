package rollout_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestUndoUnloadsTheCandidate: an undo takes all traffic off a promoted
// version an operator found bad, as a rollback takes it off a canary. A
// rollback drains the candidate's requests in flight and calls the unload
// webhook, so a GPU serving a rejected version is freed and a pin to it
// gets a 410 that says why; an undo did neither, leaving the undone
// version loaded, pinnable, and holding its GPUs until someone noticed.
// Now an undo drains and unloads as a rollback does, and records its
// timings.
func TestUndoUnloadsTheCandidate(t *testing.T) {
	var mu sync.Mutex
	var unloaded []string
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		o.Unload = func(_ context.Context, v *sluice.Version) error {
			mu.Lock()
			unloaded = append(unloaded, v.ID())
			mu.Unlock()
			return nil
		}
	})
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.act(t, rollout.EvPromote, "")
	e.clock.Add(time.Hour)
	u := e.act(t, rollout.EvUndo, "bad reviews")
	e.c.Wait()
	if u.Phase != sluice.PhaseUndone {
		t.Fatalf("phase %s, want undone", u.Phase)
	}
	mu.Lock()
	got := slices.Clone(unloaded)
	mu.Unlock()
	if !slices.Equal(got, []string{"chat:v2"}) {
		t.Errorf("after the undo the unload webhook was called for %v, want [chat:v2]", got)
	}
	reg := e.ctl.Registry()
	why := rollout.Unloaded(reg)["chat:v2"]
	if !strings.Contains(why, "undone") {
		t.Errorf("the routing table's word on the undone version is %q, want it to say it was undone", why)
	}
	r := reg.Rollouts["chat"]
	if r.Unwinding != nil {
		t.Errorf("the undo's drain and unload are done, yet its pending record is still there: %+v", r.Unwinding)
	}
	var timed bool
	for _, ev := range r.Events {
		if strings.Contains(ev.Message, "drained in") {
			timed = true
		}
	}
	if !timed {
		t.Errorf("the undone rollout's timeline has no drain timing: %v", r.Events)
	}
}
