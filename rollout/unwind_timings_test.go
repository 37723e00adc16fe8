package rollout_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestUnwind_TakenOverTimingsHoldDrainOnly: a rollback completed for a
// replica that died mid-drain said "traffic shifted in 0.0 ms" on the
// timeline, in the alert's timings and in sluice_rollout_rollback_seconds:
// the shift was the dead replica's and its time died with it, so the
// number was made up. Its timings now hold the drain alone and say the
// shift's time was not recorded.
func TestUnwind_TakenOverTimingsHoldDrainOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	dying := make(chan struct{})
	var fxA, fxB sideEffects
	_, a := rvReplica(t, path, clock, "a", true, rollout.Options{Unload: fxA.Unload, Alerts: &fxA, InFlight: rvInFlightUntil(dying), DrainTimeout: time.Hour})
	t.Cleanup(func() { close(dying); a.Wait() })
	ctlB, b := rvReplica(t, path, clock, "b", false, rollout.Options{Unload: fxB.Unload, Alerts: &fxB, InFlight: rvNoneInFlight, DrainTimeout: time.Hour})
	if _, err := a.Start(ctx, "alice", "ship v2", sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary}); err != nil {
		t.Fatal(err)
	}
	a.Step(ctx)
	if _, err := a.Act(ctx, "bob", "chat", rollout.EvAbort, "wrong build"); err != nil {
		t.Fatal(err)
	}
	if err := ctlB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Add(11 * time.Second) // past OrphanAfter: a is gone
	b.Step(ctx)
	b.Wait()

	r := ctlB.Registry().Rollouts["chat"]
	var ev *sluice.RolloutEvent
	for i := range r.Events {
		if r.Events[i].Kind == "rollback_timings" {
			ev = &r.Events[i]
		}
	}
	if ev == nil {
		t.Fatalf("no rollback_timings on the timeline: %+v", r.Events)
	}
	var data map[string]float64
	json.Unmarshal(ev.Data, &data)
	if _, ok := data["traffic_shift_ms"]; ok || strings.Contains(ev.Message, "traffic shifted in") {
		t.Errorf("timings of a rollback taken over from a: %q %v, want no traffic shift time (a's died with it)", ev.Message, data)
	}
	if _, ok := data["drain_ms"]; !ok || !strings.Contains(ev.Message, "not recorded") || !strings.Contains(ev.Message, "completed by b") {
		t.Errorf("timings %q %v, want the drain and a word that the shift's time was not recorded", ev.Message, data)
	}
	fxB.mu.Lock()
	alerts := fxB.alerts
	fxB.mu.Unlock()
	if len(alerts) != 1 || alerts[0].Timings["traffic_shift_ms"] != nil {
		t.Errorf("b's alerts %+v, want one without a traffic shift time", alerts)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(rollout.NewMetrics(ctlB, nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, mf := range mfs {
		if mf.GetName() != "sluice_rollout_rollback_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "part" {
					parts = append(parts, l.GetValue())
				}
			}
		}
	}
	if len(parts) != 1 || parts[0] != "drain" {
		t.Errorf("sluice_rollout_rollback_seconds parts %v, want the drain alone", parts)
	}
}
