package rollout_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
)

// What the user does: starts an A/B test through replica a, and once it
// is live concludes it early through replica b, whose change notice has
// not arrived yet (b does not know of the test).
// What must happen: the test is concluded with its report of the sample
// so far on the timeline, as through a. Before, b drew no report (it saw
// no running test) and the transaction concluded the running test anyway:
// no report, and a decision saying it stopped "at 0 of its planned"
// requests per arm.
func TestConcludeOnReplicaBehindTheStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	win := &rvWindows{}
	replica := func(name string, setup bool) (*control.Service, *rollout.Controller) {
		ctl, c := rvReplica(t, path, clock, name, setup, rollout.Options{InFlight: rvNoneInFlight, Windows: win})
		t.Cleanup(c.Wait)
		return ctl, c
	}
	ctlA, a := replica("a", true)
	_, b := replica("b", false) // its registry: before the test
	if _, err := a.Start(ctx, "alice", "try v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyABTest, ABSamples: 1000}); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	if r := ctlA.Registry().Rollouts["chat"]; r == nil || r.Phase != sluice.PhaseProgressing {
		t.Fatalf("setup: the A/B test is not live: %+v", r)
	}
	clock.Add(time.Minute)
	win.record("v1", clock.Now(), 200)
	win.record("v2", clock.Now(), 200)
	clock.Add(time.Minute)

	r, err := b.Conclude(ctx, "bob", "chat", rollout.PickBaseline, "budget")
	if err != nil {
		t.Fatalf("conclude through b: %v", err)
	}
	if r.Phase != sluice.PhaseAborted {
		t.Fatalf("phase %s, want aborted (concluded early for the baseline)", r.Phase)
	}
	rep := rollout.ABReportOf(r)
	if rep == nil || !rep.StoppedEarly || rep.CandidateN != 200 {
		t.Errorf("report on the timeline %+v, want the sample so far (200 a side), marked stopped early", rep)
	}
	if strings.Contains(r.Decision, "at 0 of") {
		t.Errorf("decision %q: the test had 200 requests per arm", r.Decision)
	}
}
