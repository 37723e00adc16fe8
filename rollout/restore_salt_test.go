package rollout_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestRestore_OldRecordKeepsSalt: a rollout recorded by a release that
// kept no salt under a policy other than a split has a previous_policy
// without "salt". That absence says the salt was not recorded, not that
// the model had none: rolling such a rollout back must leave the salt the
// model has now, as SetPolicy does for a policy given without one, instead
// of clearing it (which would reshuffle every user on the model's next
// split).
func TestRestore_OldRecordKeepsSalt(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	st := rvStore(t, path)
	ctl := rvChat(t, st, clock.Now, true) // chat: policy specific v1
	if _, err := ctl.Do(ctx, "alice", "salt", func(e *sluice.Edit) error {
		return e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1", Salt: "S"})
	}); err != nil {
		t.Fatal(err)
	}
	c := rvController(rollout.Options{Control: ctl, Now: clock.Now})
	if _, err := c.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if r := ctl.Registry().Rollouts["chat"]; r == nil || r.Phase != sluice.PhaseProgressing || r.PreviousPolicy.Salt != "S" {
		t.Fatalf("fixture: rollout %+v, want a live canary that recorded salt S", r)
	}

	// The record as the old release wrote it: previous_policy has no salt.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE rollouts SET doc = json_remove(doc, '$.previous_policy.salt')`); err != nil {
		t.Fatal(err)
	}
	var prev string
	if err := db.QueryRowContext(ctx, `SELECT json_extract(doc, '$.previous_policy') FROM rollouts`).Scan(&prev); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(prev, "salt") || !strings.Contains(prev, `"specific"`) {
		t.Fatalf("fixture: stored previous_policy %s, want the pin to v1 without salt", prev)
	}
	db.Close()

	// The new release starts on that store and the rollout is aborted.
	ctl2 := rvChat(t, st, clock.Now, false)
	c2 := rvController(rollout.Options{Control: ctl2, Now: clock.Now})
	if _, err := c2.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	c2.Wait()
	reg, err := st.LoadRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for where, m := range map[string]*sluice.Model{"stored": reg.Models["chat"], "published": ctl2.Registry().Models["chat"]} {
		if p := m.Policy; p.Kind != sluice.PolicySpecific || p.Version != "v1" || p.Salt != "S" {
			t.Errorf("%s policy after the abort: %s with salt %q, want specific v1 keeping salt S", where, p, p.Salt)
		}
	}
}
