package api_test

import (
	"context"
	"net/http"
	"testing"
)

// TestServer_StartRolloutRefusesGuardsOnRolling: a POST /admin/v1/rollouts
// of a rolling rollout with analysis.guards started it, and the guards did
// nothing (rolling has no analysis). It is a 422 naming the field, saying
// rolling judges no guards and what to use instead; nothing starts.
func TestServer_StartRolloutRefusesGuardsOnRolling(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	before, _ := e.Store.LoadRegistry(context.Background())
	res := e.do(t, "POST", "/admin/v1/rollouts", operatorSecret, []byte(`{"spec": {"model": "chat", "candidate": "v1.2.0", "strategy": "rolling", "analysis": {"guards": ["latency_p99"]}}, "reason": "try"}`))
	res.want(t, http.StatusUnprocessableEntity, "a rolling rollout judges no guards (latency_p99)", "--strategy canary or progressive", "the key analysis.guards")
	res.wantFields(t, "analysis.guards")
	if after, _ := e.Store.LoadRegistry(context.Background()); after.Revision != before.Revision || after.Rollouts["chat"] != nil {
		t.Errorf("a refused start changed the registry: revision %d → %d, rollout %v", before.Revision, after.Revision, after.Rollouts["chat"])
	}
}
