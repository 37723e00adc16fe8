package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestPlan_UnknownVersionListsTheModelsVersions: a plan for a version the
// model lacks names the ones it has as a list people read ("chat has
// v1.0.0, v1.1.0"), not Go's "[v1.0.0 v1.1.0]".
func TestPlan_UnknownVersionListsTheModelsVersions(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	r := e.do(t, "GET", "/admin/v1/plan/chat?to=v9.9.9", viewerSecret, nil)
	if r.Status != http.StatusNotFound {
		t.Fatalf("status %d, want 404", r.Status)
	}
	if msg := r.Err.Message; strings.Contains(msg, "[") || !strings.Contains(msg, "chat has v") || !strings.Contains(msg, ", v") {
		t.Errorf("message %q: want the model's versions as a comma list after \"chat has\"", msg)
	}
}
