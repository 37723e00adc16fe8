package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPlan_SameVersionRefused: `sluice plan emb v1` where v1 is what the
// model already serves answered 200 with "Update emb: v1 → v1, Risk:
// CRITICAL (another model family (unknown → unknown))" and a 31-hour plan,
// where `sluice rollout start` refuses the same move ("already the
// baseline: nothing to roll out"). The plan refuses it too.
func TestPlan_SameVersionRefused(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	r := e.do(t, "GET", "/admin/v1/plan/chat?to=v1.1.0&from=v1.1.0", viewerSecret, nil)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Err.Message, "nothing to plan") {
		t.Errorf("plan v1.1.0 → v1.1.0: status %d %q, want 422 saying there is nothing to plan", r.Status, r.Err.Message)
	}
	if r := e.do(t, "GET", "/admin/v1/plan/chat?to=v1.2.0&from=v1.1.0", viewerSecret, nil); r.Status != http.StatusOK {
		t.Errorf("plan v1.1.0 → v1.2.0: status %d %q", r.Status, r.Err.Message)
	}
}
