package rollout_test

import (
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestOutOfServiceRollbackUnfenced: the analysis transition is
// fenced (it refuses to apply when the rollout moved since it was read),
// and rollBackIfOut was not: when an operator (or another replica's
// controller) ended the rollout between the controller's read of the
// registry and its out-of-service transition, Next returned the ended
// rollout unchanged, and transition still wrote it back (bumping
// UpdatedAt) with a "rollout.out_of_service" audit entry for a rollout
// that was already aborted: the audit log showed a transition that never
// happened.
func TestOutOfServiceRollbackUnfenced(t *testing.T) {
	var once sync.Once
	var e *rvEnv
	e = newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		o.OutOfService = func(id string) string {
			if id != "chat:v2" {
				return "" // the baseline serves (a rollback asks about it too)
			}
			if e == nil || e.ctl.Registry().Rollouts["chat"] == nil || e.ctl.Registry().Rollouts["chat"].Phase != sluice.PhaseProgressing {
				return ""
			}
			// The operator's abort lands just before the controller acts.
			once.Do(func() { e.act(t, rollout.EvAbort, "wrong build") })
			return "failing health checks"
		}
	})
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
	e.c.Step(e.ctx)
	after := e.ctl.Registry().Rollouts["chat"]
	if after.Phase != sluice.PhaseAborted {
		t.Fatalf("phase %s, want aborted", after.Phase)
	}
	audit, err := e.ctl.Store().Audit(e.ctx, sluice.AuditQuery{Action: "rollout.out_of_service"})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 0 {
		t.Errorf("%d rollout.out_of_service audit entries for a rollout aborted before the controller acted (before %s after %s), want 0", len(audit), audit[0].Before, audit[0].After)
	}
}
