package rollout_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestRollback_OntoADownBaselineNamesAWayOut: a rollback onto versions
// that are all out of service warns and pages (TestRollback_OntoADown
// Baseline); when another registered version of the model is in service
// (here v0, the production before v1, deprecated), the warning names it
// and the commands that send the model's traffic (and its labels on the
// down version) there. Nothing is routed to it automatically. A retired
// version, one out of service too, and the candidate just rolled back are
// never offered; with none left the warning offers nothing.
func TestRollback_OntoADownBaselineNamesAWayOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v0     sluice.Stage
		v0Down bool
		want   string // "" for no way out offered
	}{
		{"PreviousProductionUp", sluice.StageDeprecated, false, `chat:v0 (deprecated) is in service: to send chat's traffic there, sluice set split chat v0=100 --reason "…" and sluice label chat stable=v0 --reason "…"`},
		{"PreviousProductionDown", sluice.StageDeprecated, true, ""},
		{"PreviousRetired", sluice.StageRetired, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			al := &reviewAlerts{}
			var live atomic.Bool
			e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
				o.Alerts = al
				o.OutOfService = func(id string) string {
					if live.Load() && (id == "chat:v1" || id == "chat:v0" && tc.v0Down) {
						return "failing health checks"
					}
					return ""
				}
			})
			t.Cleanup(e.c.Wait)
			if _, err := e.ctl.Do(e.ctx, "setup", "setup", func(ed *sluice.Edit) error {
				_, err := ed.RegisterVersion(sluice.Version{Model: "chat", Version: "v0", Endpoints: []string{"http://127.0.0.1:3"}, Stage: tc.v0})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
			live.Store(true)
			e.clock.Add(time.Second)
			e.act(t, rollout.EvAbort, "wrong build")
			e.c.Wait()
			r := e.ctl.Registry().Rollouts["chat"]
			var warn string
			for _, ev := range r.Events {
				if ev.Kind == "warning" {
					warn = ev.Message
				}
			}
			if !strings.Contains(warn, "traffic went back to chat:v1, which is failing health checks") {
				t.Fatalf("events %+v: no warning of the down baseline", r.Events)
			}
			if m := e.ctl.Registry().Models["chat"]; m.Policy.Kind != sluice.PolicySpecific || m.Policy.Version != "v1" {
				t.Errorf("policy %s after the rollback, want specific v1: nothing routed automatically", m.Policy)
			}
			al.mu.Lock()
			var alert string
			for _, a := range al.got {
				if a.Severity == "critical" && strings.Contains(a.Message, r.ID) {
					alert = a.Message
				}
			}
			al.mu.Unlock()
			if tc.want == "" {
				if strings.Contains(warn, "sluice set split") || strings.Contains(warn, "v2=100") {
					t.Errorf("warning offers a way out with none in service: %q", warn)
				}
				return
			}
			if !strings.Contains(warn, tc.want) {
				t.Errorf("warning %q\nwant it to contain %q", warn, tc.want)
			}
			if !strings.Contains(alert, tc.want) {
				t.Errorf("critical alert %q\nwant it to contain %q", alert, tc.want)
			}
		})
	}
}
