package rollout_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestRollback_OntoADownBaseline: a rollback puts traffic back on the
// routing from before even when every version of it is out of service (a
// candidate judged failing is taken out all the same), but the timeline
// says that requests now fail, and the alert pages as critical instead of
// informing as a warning. When the baseline serves, nothing is added.
func TestRollback_OntoADownBaseline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		down     string // the version failing health checks
		act      func(t *testing.T, e *rvEnv)
		wantWarn bool
	}{
		{"AbortBaselineDown", "chat:v1", func(t *testing.T, e *rvEnv) { e.act(t, rollout.EvAbort, "wrong build") }, true},
		{"AbortBaselineUp", "", func(t *testing.T, e *rvEnv) { e.act(t, rollout.EvAbort, "wrong build") }, false},
		{"UndoBaselineDown", "chat:v1", func(t *testing.T, e *rvEnv) {
			e.act(t, rollout.EvPromote, "looks good")
			e.act(t, rollout.EvUndo, "users complain")
		}, true},
		{"OutOfServiceBothDown", "both", func(t *testing.T, e *rvEnv) {
			e.c.Step(e.ctx) // the controller finds the candidate out and rolls back
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			al := &reviewAlerts{}
			var live atomic.Bool
			e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
				o.Alerts = al
				o.OutOfService = func(id string) string {
					if !live.Load() {
						return "" // the warm-up and start see both healthy
					}
					if id == tc.down || tc.down == "both" {
						return "failing health checks"
					}
					return ""
				}
			})
			t.Cleanup(e.c.Wait)
			e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
			live.Store(true)
			e.clock.Add(time.Second)
			tc.act(t, e)
			e.c.Wait()
			r := e.ctl.Registry().Rollouts["chat"]
			if r.Phase.Active() {
				t.Fatalf("phase %s: the rollback did not happen", r.Phase)
			}
			if m := e.ctl.Registry().Models["chat"]; m.Policy.Kind != sluice.PolicySpecific || m.Policy.Version != "v1" {
				t.Errorf("policy %s after the rollback, want specific v1 (a down baseline does not stop it)", m.Policy)
			}
			var warn *sluice.RolloutEvent
			for i := range r.Events {
				if r.Events[i].Kind == "warning" {
					warn = &r.Events[i]
				}
			}
			al.mu.Lock()
			alerts := append([]rollout.Alert(nil), al.got...)
			al.mu.Unlock()
			var rollbackAlert *rollout.Alert
			for i := range alerts {
				if strings.Contains(alerts[i].Message, r.ID) && (alerts[i].Severity != "info") {
					rollbackAlert = &alerts[i]
				}
			}
			if rollbackAlert == nil {
				t.Fatalf("no rollback alert among %+v", alerts)
			}
			if !tc.wantWarn {
				if warn != nil {
					t.Errorf("a warning with a healthy baseline: %q", warn.Message)
				}
				if rollbackAlert.Severity == "critical" || strings.Contains(rollbackAlert.Message, "WARNING") {
					t.Errorf("alert %s %q with a healthy baseline", rollbackAlert.Severity, rollbackAlert.Message)
				}
				return
			}
			want := "traffic went back to chat:v1, which is failing health checks: requests for chat fail until its backends recover"
			if warn == nil || !strings.Contains(warn.Message, want) {
				t.Errorf("events %+v, want a warning containing %q", r.Events, want)
			}
			if rollbackAlert.Severity != "critical" || !strings.Contains(rollbackAlert.Message, want) {
				t.Errorf("alert %s %q, want critical with %q", rollbackAlert.Severity, rollbackAlert.Message, want)
			}
		})
	}
}

// TestController_PausedBakeCandidateOutOfService: the controller skips a
// paused rollout's analysis, but a paused bake whose candidate (all the
// traffic since the promotion) goes out of service is rolled back, its
// promotion undone.
func TestController_PausedBakeCandidateOutOfService(t *testing.T) {
	var down atomic.Bool
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		o.OutOfService = func(id string) string {
			if id == "chat:v2" && down.Load() {
				return "failing health checks"
			}
			return ""
		}
	})
	t.Cleanup(e.c.Wait)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Bake: sluice.BakeFor(10 * time.Minute)})
	e.act(t, rollout.EvPromote, "looks good")
	e.act(t, rollout.EvPause, "load test elsewhere")
	down.Store(true)
	e.clock.Add(time.Second)
	e.c.Step(e.ctx)
	e.c.Wait()
	r := e.ctl.Registry().Rollouts["chat"]
	if r.Phase != sluice.PhaseRolledBack {
		t.Fatalf("phase %s after the candidate went out of service in a paused bake, want rolled back", r.Phase)
	}
	m := e.ctl.Registry().Models["chat"]
	if m.Policy.Kind != sluice.PolicySpecific || m.Policy.Version != "v1" || m.Labels["stable"] != "v1" {
		t.Errorf("policy %s, stable %s after the rollback: want the promotion undone (specific v1, stable v1)", m.Policy, m.Labels["stable"])
	}
}
