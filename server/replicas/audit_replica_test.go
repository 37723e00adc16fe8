package replicas_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_AuditNamesReplica: with several replicas, the audit said who
// did what but not on which replica: an operator's start through one, the
// controller's steps on the leader and a pause through another all read
// alike, and after a failover the old leader's steps could not be told
// from the new one's. Each entry now names the process that committed it
// (its fleet name: host, pid and random bytes).
func TestReplicas_AuditNamesReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL-backed processes")
	}
	f := newFleet(t, pgtest.Schema(t))
	rs := f.start(2)
	leader, other := f.leaderOfTwo(rs, 15*time.Second)
	ctx := context.Background()
	ro, err := other.client.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Baseline: "v1.0.0", Strategy: sluice.StrategyCanary,
		Warmup: sluice.WarmupSpec{Skip: true}, Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(time.Hour)}}, "canary through the follower")
	if err != nil {
		t.Fatal(err)
	}
	waitPhase(t, other, ro.ID, 20*time.Second, sluice.PhaseProgressing)
	if _, err := leader.client.RolloutAction(ctx, "chat", "pause", "hold it"); err != nil {
		t.Fatal(err)
	}

	entries, err := other.client.Audit(ctx, sluice.AuditQuery{Model: "chat", Action: "rollout.", Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	// The fleet name holds the process id between dashes.
	pidOf := func(r *replica) string { return fmt.Sprintf("-%d-", r.cmd.Process.Pid) }
	want := map[string]*replica{"rollout.start": other, "rollout.warmed": leader, "rollout.pause": leader}
	for _, a := range entries {
		r := want[a.Action]
		if r == nil || a.Subject != ro.ID {
			continue
		}
		delete(want, a.Action)
		if !strings.Contains(a.Replica, pidOf(r)) {
			t.Errorf("audit %s by %s names replica %q, want %s's (pid %d)", a.Action, a.Actor, a.Replica, r.name, r.cmd.Process.Pid)
		}
		if !strings.Contains(r.Log(), "replica="+a.Replica) {
			t.Errorf("%s's log does not give its replica name %q, which its audit entries carry:\n%s", r.name, a.Replica, r.Log())
		}
	}
	for action := range want {
		t.Errorf("no %s entry for rollout %s in the audit: %+v", action, ro.ID, entries)
	}
}
