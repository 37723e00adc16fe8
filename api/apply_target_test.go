package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestApplyTargetRefusedLeavesNothing: an apply whose declared
// target cannot start a rollout (an unknown target version, an invalid
// rollout strategy) is answered with an error, so the change is refused
// whole. The document's routing used to be committed first and the rollout
// tried after the commit, so the client got a 4xx while the labels,
// revision and audit log had changed.
func TestApplyTargetRefusedLeavesNothing(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
	}{
		{"UnknownTarget", `{"doc":{"models":[{"name":"chat","labels":{"beta":"v1.0.0"},"target":"v9.9.9"}]},"reason":"ship"}`, http.StatusNotFound},
		{"InvalidRolloutStrategy", `{"doc":{"models":[{"name":"chat","labels":{"beta":"v1.0.0"},"target":"v1.2.0","rollout":{"strategy":"bogus"}}]},"reason":"ship"}`, http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			e := MustEnv(t)
			e.MustSeed(t)
			before, _ := e.Store.LoadRegistry(ctx)
			audit, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 10000})
			r := e.do(t, "POST", "/admin/v1/apply", adminSecret, []byte(c.body))
			if r.Status != c.status {
				t.Fatalf("status = %d, want %d: %s", r.Status, c.status, r.Body)
			}
			after, _ := e.Store.LoadRegistry(ctx)
			if after.Revision != before.Revision {
				t.Errorf("refused apply (%d: %s) still committed: revision %d → %d", r.Status, r.Err.Message, before.Revision, after.Revision)
			}
			if got := after.Models["chat"].Labels["beta"]; got != "" {
				t.Errorf("refused apply still set label beta=%s", got)
			}
			if a, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 10000}); len(a) != len(audit) {
				t.Errorf("refused apply still wrote %d audit entries", len(a)-len(audit))
			}
		})
	}
}

// TestApplyDryRunChecksTarget: a dry run is meant to say whether the
// apply would be accepted; with a target that does not exist it answered
// 200 although the real apply is refused.
func TestApplyDryRunChecksTarget(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	r := e.do(t, "POST", "/admin/v1/apply", adminSecret, []byte(`{"doc":{"models":[{"name":"chat","target":"v9.9.9"}]},"reason":"ship","dry_run":true}`))
	if r.Status < 400 {
		t.Fatalf("dry run with an unregistered target answered %d, want a 4xx naming the target: %s", r.Status, r.Body)
	}
}
