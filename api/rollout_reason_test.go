package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestRolloutAction_ReasonRequired: promote, pause and resume went through
// without a reason (the dashboard's buttons sent "promote from the
// dashboard by NAME"), so the audit said who promoted but never why. Every
// rollout action now needs one, refused as every other change is: the
// same message, the reason field named, and nothing changed.
func TestRolloutAction_ReasonRequired(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	e.mustLiveRollout(t, sluice.PhaseProgressing)
	before, _ := e.Store.LoadRegistry(ctx)
	audit, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 10000})
	for _, action := range []string{"promote", "pause", "resume", "abort", "undo"} {
		for _, body := range []string{`{}`, `{"reason": ""}`, `{"reason": "  \n "}`} {
			r := e.do(t, "POST", "/admin/v1/rollouts/chat/"+action, operatorSecret, []byte(body))
			r.want(t, http.StatusUnprocessableEntity, "a reason is required", `send "reason": "why"`)
			r.wantFields(t, "reason")
		}
	}
	after, _ := e.Store.LoadRegistry(ctx)
	if after.Revision != before.Revision || after.Rollouts["chat"].Phase != sluice.PhaseProgressing {
		t.Errorf("refused actions changed something: revision %d → %d, phase %s", before.Revision, after.Revision, after.Rollouts["chat"].Phase)
	}
	if a, _ := e.Store.Audit(ctx, sluice.AuditQuery{Limit: 10000}); len(a) != len(audit) {
		t.Errorf("refused actions wrote %d audit entries", len(a)-len(audit))
	}

	// With a reason, each goes through and the audit keeps the reason.
	for _, c := range []struct{ action, reason string }{
		{"pause", "look at the payments numbers"},
		{"resume", "payments are fine"},
		{"promote", "canary looks fine"},
	} {
		if _, err := e.Oper.RolloutAction(ctx, "chat", c.action, c.reason); err != nil {
			t.Fatalf("%s with a reason: %v", c.action, err)
		}
		entries, err := e.Store.Audit(ctx, sluice.AuditQuery{Action: "rollout." + c.action})
		if err != nil || len(entries) == 0 || entries[0].Reason != c.reason {
			t.Errorf("audit of %s = %+v, %v; want its reason %q", c.action, entries, err, c.reason)
		}
	}
}
