package rollout_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
)

// sideEffects records a controller's unload webhook calls and alerts.
type sideEffects struct {
	mu      sync.Mutex
	unloads []string
	alerts  []rollout.Alert
}

func (s *sideEffects) Unload(_ context.Context, v *sluice.Version) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unloads = append(s.unloads, v.ID())
	return nil
}

func (s *sideEffects) Alert(_ context.Context, a rollout.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, a)
}

func (s *sideEffects) counts() (unloads, alerts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.unloads), len(s.alerts)
}

// What the user does: aborts a canary through one gateway process, which
// dies (SIGKILL, OOM) while it waits for the candidate's requests in flight
// to drain, before its unload webhook, timings and alerts.
// What must happen: the abort's transaction records them as pending (and a
// new rollout of that candidate is refused meanwhile); once the owner has
// been gone for OrphanAfter, the leader (another replica, or the gateway
// restarted) takes them over in one transaction and does them: the unload
// webhook once, the alert (saying it completed another's rollback), the
// timings on the timeline, the pending record cleared. Its next ticks do
// nothing more.
func TestUnwindCompletedAfterOwnerDied(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	dying := make(chan struct{}) // closed at the end: the dead process's drain never ends before
	var fxA, fxB sideEffects
	newController := func(name string, fx *sideEffects, inFlight func(string) int64, setup bool) (*control.Service, *rollout.Controller) {
		return rvReplica(t, path, clock, name, setup, rollout.Options{Unload: fx.Unload, Alerts: fx, InFlight: inFlight, DrainTimeout: time.Hour})
	}
	// a's candidate request never ends while a lives: its drain hangs.
	_, a := newController("a", &fxA, rvInFlightUntil(dying), true)
	t.Cleanup(func() { close(dying); a.Wait() }) // before the stores close
	ctlB, b := newController("b", &fxB, rvNoneInFlight, false)

	if _, err := a.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx)
	if _, err := a.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	// a now "dies" mid-drain: it never gets further.
	if err := ctlB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	r := ctlB.Registry().Rollouts["chat"]
	if r == nil || r.Phase != sluice.PhaseAborted || r.Unwinding == nil || r.Unwinding.Owner != "a" || !r.Unwinding.Unload || len(r.Unwinding.Alerts) != 1 {
		t.Fatalf("after the abort the store holds %+v, want phase aborted with the unload and 1 alert pending on a", r)
	}

	t.Run("NotBeforeOrphanAfter", func(t *testing.T) {
		clock.Add(5 * time.Second)
		b.Step(ctx)
		b.Wait()
		if u, n := fxB.counts(); u != 0 || n != 0 {
			t.Fatalf("b did %d unload(s) and %d alert(s) 5 s after a's abort; a may still be draining", u, n)
		}
		_, err := b.Start(ctx, "alice", "ship v2 again", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary})
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "still being rolled back") {
			t.Fatalf("a new rollout of v2 while a's unload is pending: err = %v, want a conflict saying it is still being rolled back", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		clock.Add(6 * time.Second)
		b.Step(ctx)
		b.Wait()
		fxB.mu.Lock()
		unloads, alerts := fxB.unloads, fxB.alerts
		fxB.mu.Unlock()
		if len(unloads) != 1 || unloads[0] != "chat:v2" {
			t.Errorf("b's unload webhook calls = %v, want [chat:v2]", unloads)
		}
		if len(alerts) != 1 || !strings.Contains(alerts[0].Message, "wrong build") || !strings.Contains(alerts[0].Message, "completed by b: a stopped") || alerts[0].Timings == nil {
			t.Errorf("b's alerts = %+v, want the abort's, with its timings, saying b completed it for a", alerts)
		}
		r := ctlB.Registry().Rollouts["chat"]
		if r.Unwinding != nil {
			t.Errorf("the rollback is still pending after b completed it: %+v", r.Unwinding)
		}
		var timings int
		for _, ev := range r.Events {
			if ev.Kind == "rollback_timings" {
				timings++
			}
		}
		if timings != 1 {
			t.Errorf("%d rollback_timings events on the timeline, want 1", timings)
		}
	})
	t.Run("Idempotent", func(t *testing.T) {
		clock.Add(time.Minute)
		b.Step(ctx)
		b.Wait()
		if u, n := fxB.counts(); u != 1 || n != 1 {
			t.Fatalf("after another tick b has done %d unload(s) and %d alert(s), want 1 and 1", u, n)
		}
	})
}
