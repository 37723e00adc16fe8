package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_DecisionsAreAudited: the audit leaves the controller's
// routine rollout.analysis entries out by default, and an automatic
// rollback or stage was one of them, so `sluice audit chat` showed only a
// policy change "analysis of chat-r1" with no word of what happened. An
// analysis that moves the rollout is now a rollout.decision entry, shown
// by default, and every entry of that change says what was decided.
func TestController_DecisionsAreAudited(t *testing.T) {
	for _, tc := range []struct {
		name     string
		strategy sluice.Strategy
		refused  bool   // the candidate refuses every request
		want     string // in the decision's reason
		phase    sluice.Phase
	}{
		{"Stage", sluice.StrategyProgressive, false, "stage 2: candidate at 50% of traffic", sluice.PhaseProgressing},
		{"RollBack", sluice.StrategyProgressive, true, "rolled back: quality", sluice.PhaseRolledBack},
		// The A/B report goes on the timeline after the rollback's event:
		// the decision is the rollback, not the report's summary.
		{"ABTestGuardrail", sluice.StrategyABTest, true, "rolled back: the A/B test's guardrail failed", sluice.PhaseRolledBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec *observe.Recorder
			e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
				rec = observe.New(observe.Options{Now: o.Now})
				o.Windows = rec
			})
			t.Cleanup(e.c.Wait)
			spec := sluice.RolloutSpec{Strategy: tc.strategy,
				Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(time.Second), FailChecks: 1}}
			if tc.strategy == sluice.StrategyABTest {
				spec.ABSamples = 100000
			} else {
				spec.Stages = []sluice.RolloutStage{{Percent: 10, MinSamples: 100}, {Percent: 50, MinSamples: 100}, {Percent: 100}}
			}
			e.startLive(t, spec)
			for range 10 {
				e.clock.Add(2 * time.Second)
				at := e.clock.Now()
				for i := range 300 {
					lat := time.Duration(100+i%10) * time.Millisecond
					e.recordN(rec, "v1", "split", at, false, lat, 1)
					if tc.strategy == sluice.StrategyABTest {
						// An A/B test's guardrail judges failed requests.
						o := &sluice.Observation{Model: "chat", Version: "v2", Route: "split", At: at, Status: 200, Latency: lat, OutputTokens: 50, ResponseChars: 200}
						if tc.refused {
							o.Status, o.ErrorClass = 500, "http_5xx"
						}
						rec.Record(o)
						continue
					}
					e.recordN(rec, "v2", "split", at, tc.refused, lat, 1)
				}
				e.c.Step(e.ctx)
				e.c.Wait()
				if r := e.ctl.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseProgressing || r.StageIndex > 0 {
					break
				}
			}
			r := e.ctl.Registry().Rollouts["chat"]
			if r.Phase != tc.phase {
				t.Fatalf("phase %s after the analyses, want %s (decision %q)", r.Phase, tc.phase, r.Decision)
			}
			shown, err := e.ctl.Store().Audit(e.ctx, sluice.AuditQuery{Model: "chat", ExcludeActions: []string{"rollout.analysis"}})
			if err != nil {
				t.Fatal(err)
			}
			var decision, policy *sluice.AuditEntry
			for i := range shown {
				switch shown[i].Action {
				case "rollout.decision":
					decision = &shown[i]
				case "model.policy", "model.split":
					if strings.HasPrefix(shown[i].Reason, "analysis of") {
						policy = &shown[i]
					}
				}
			}
			if decision == nil || !strings.Contains(decision.Reason, tc.want) {
				var got []string
				for _, a := range shown {
					got = append(got, a.Action+": "+a.Reason)
				}
				t.Fatalf("the audit without analyses has no rollout.decision saying %q:\n%s", tc.want, strings.Join(got, "\n"))
			}
			if policy == nil || policy.Reason != decision.Reason {
				t.Errorf("the routing change of the decision: %+v, want its reason to be the decision's %q", policy, decision.Reason)
			}
		})
	}
}
