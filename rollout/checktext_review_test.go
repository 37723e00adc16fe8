package rollout_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

// What the user does: runs a canary of chat:v2 on a registry written by the
// previous release, in which the model's description holds a control
// character (an ANSI colour code pasted from a terminal, "\x1b[32m"; both
// stores accepted it: PostgreSQL refuses only NUL), upgrades and restarts
// the gateway, then aborts the canary (or the controller rolls it back).
// What happens now: today's CheckText check on descriptions runs in
// ValidateModel, which every edit runs on every model it touches, against
// the stored text too: the abort's routing change is refused with "model
// chat: description contains a control character (U+001B): remove it", so the
// candidate keeps its share of traffic, and no rollback, stage change or
// policy change of that model can go through until someone edits the
// description (the models_file apply at start fails the same way).
// What should happen: text already stored is not re-judged by changes that
// do not set it (check a description when it is written); the abort goes
// through and the traffic is back on v1.
func TestStoredDescriptionBlocksRollback(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	ctl, err := control.New(ctx, st, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	policy := sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1"}, Policy: &policy,
		Versions: []sluice.Version{
			{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
			{Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}, Stage: sluice.StageStaging},
		}}}}
	if _, err := ctl.Do(ctx, "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	opt := rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: &rvWarmer{}, Now: clock.Now}
	c := rollout.New(opt)
	if _, err := c.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	reg := ctl.Registry()
	if r := reg.Rollouts["chat"]; r == nil || r.Phase != sluice.PhaseProgressing {
		t.Fatalf("fixture: rollout not live: %+v", r)
	}

	// What the previous release stored (it checked no description text).
	m := reg.Models["chat"].Clone()
	m.Description = "Llama 3.1 8B \x1b[32mqualified\x1b[0m for support"
	if _, err := st.Commit(ctx, sluice.Change{BaseRevision: reg.Revision, Models: []sluice.Model{m},
		Audit: []sluice.AuditEntry{{Actor: "alice", Action: "model.put", Model: "chat", Reason: "describe"}}}); err != nil {
		t.Fatal(err)
	}

	// The upgraded gateway starts on that store.
	ctl2, err := control.New(ctx, st, clock.Now)
	if err != nil {
		t.Fatalf("restart on the stored registry: %v", err)
	}
	opt.Control = ctl2
	c2 := rollout.New(opt)
	clock.Add(time.Minute)
	_, err = c2.Act(ctx, "bob", "chat", rollout.EvAbort, "p99 regression")
	c2.Wait()
	if err != nil {
		t.Fatalf("the abort of the live canary is refused: %v (policy still %s)", err, ctl2.Registry().Models["chat"].Policy)
	}
	if p := ctl2.Registry().Models["chat"].Policy; p.Kind != sluice.PolicySpecific || p.Version != "v1" {
		t.Errorf("after the abort the policy is %s, want specific v1", p)
	}
}
