package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// What the user does: starts a rollout and, later, reads `sluice audit
// chat` to find who put the candidate on traffic, or why a rollout never
// started.
// What must happen: the entries of the warm-up's change (the routing it
// set and the rollout's own entry) say what the warm-up decided: the first
// stage's share, the preview label, or why the candidate never took
// traffic. They said only "warm-up of chat-…" whichever it was, so the
// entry that moved 10% of the traffic to the candidate read as a warm-up,
// and a failed one did not say why outside its JSON.
func TestController_WarmupDecisionIsAudited(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spec   sluice.RolloutSpec
		warmer rollout.Warmer // nil: one that succeeds
		action string
		want   string
		policy bool // the change also set the routing (a model.policy or model.labels entry)
	}{
		{"FirstStage", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive,
			Stages: []sluice.RolloutStage{{Percent: 10, MinSamples: 100}, {Percent: 100}}},
			nil, "rollout.warmed", "stage 1: candidate at 10% of traffic", true},
		{"Preview", sluice.RolloutSpec{Strategy: sluice.StrategyBlueGreen},
			nil, "rollout.warmed", "reachable as chat@preview", true},
		// v2's endpoint (127.0.0.1:2) answers nothing: the real warmer's
		// readiness check fails.
		{"Failed", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10},
			&rollout.HTTPWarmer{}, "rollout.warmup_failed", "the candidate never took traffic: ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
				if tc.warmer != nil {
					o.Warmer = tc.warmer
				}
			})
			t.Cleanup(e.c.Wait)
			spec := tc.spec
			spec.Model, spec.Candidate = "chat", "v2"
			spec.Analysis = sluice.AnalysisSpec{Interval: sluice.Duration(time.Second)}
			r, err := e.c.Start(e.ctx, "alice", "ship v2", spec)
			if err != nil {
				t.Fatal(err)
			}
			e.c.Wait()
			entries, err := e.ctl.Store().Audit(e.ctx, sluice.AuditQuery{Model: "chat", Text: "warm-up of " + r.ID})
			if err != nil {
				t.Fatal(err)
			}
			var own, routing int
			for _, a := range entries {
				if !strings.HasPrefix(a.Reason, "warm-up of "+r.ID+": ") || !strings.Contains(a.Reason, tc.want) {
					t.Errorf("%s entry's reason %q: want \"warm-up of %s: …%s…\"", a.Action, a.Reason, r.ID, tc.want)
				}
				switch a.Action {
				case tc.action:
					own++
				case "model.policy", "model.labels":
					routing++
				}
			}
			if own != 1 {
				t.Errorf("%d %s entries among %d, want 1", own, tc.action, len(entries))
			}
			if tc.policy != (routing > 0) {
				t.Errorf("%d routing entries of the warm-up's change, want some: %v", routing, tc.policy)
			}
		})
	}
}
