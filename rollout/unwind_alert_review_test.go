package rollout_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// What the user does: aborts a canary while the baseline's backends are
// all failing health checks, through a gateway process that dies mid-drain,
// before its alerts. The abort's alert is raised to critical (traffic went
// back to versions that cannot serve it), which pages a pagerduty webhook
// whatever its kind. What must happen: the replica that completes the
// rollback sends that alert as it was raised, critical, with its warning,
// as the dead process would have: the pending record keeps the raised
// alert, not the one from before the raise.
func TestUnwind_CompletedAlertKeepsItsCriticalRaise(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	dying := make(chan struct{})
	var down atomic.Bool
	oos := func(id string) string {
		if down.Load() && id == "chat:v1" {
			return "failing health checks"
		}
		return ""
	}
	var fxA, fxB sideEffects
	_, a := rvReplica(t, path, clock, "a", true, rollout.Options{Unload: fxA.Unload, Alerts: &fxA, InFlight: rvInFlightUntil(dying), DrainTimeout: time.Hour, OutOfService: oos})
	t.Cleanup(func() { close(dying); a.Wait() })
	ctlB, b := rvReplica(t, path, clock, "b", false, rollout.Options{Unload: fxB.Unload, Alerts: &fxB, InFlight: rvNoneInFlight, OutOfService: oos})

	if _, err := a.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx)
	down.Store(true)
	if _, err := a.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	// a dies mid-drain; b takes the rollback over once a is an orphan.
	if err := ctlB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r := ctlB.Registry().Rollouts["chat"]; r == nil || r.Phase != sluice.PhaseAborted || r.Unwinding == nil {
		t.Fatalf("after the abort the store holds %+v, want phase aborted with its side effects pending", r)
	}
	clock.Add(11 * time.Second)
	b.Step(ctx)
	b.Wait()
	fxB.mu.Lock()
	alerts := append([]rollout.Alert(nil), fxB.alerts...)
	fxB.mu.Unlock()
	if len(alerts) != 1 {
		t.Fatalf("b sent %d alerts, want the abort's: %+v", len(alerts), alerts)
	}
	if al := alerts[0]; al.Severity != "critical" || al.Event != "aborted" || !strings.Contains(al.Message, "WARNING: traffic went back to chat:v1, which is failing health checks") {
		t.Errorf("b completed the abort with alert %s %s %q, want critical aborted with the warning (traffic went back to a version that is down)", al.Severity, al.Event, al.Message)
	}
}
