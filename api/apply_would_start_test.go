package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/api"
)

// TestApplyDryRunWouldStartIsTheStart: a dry run's would_start is the
// spec each declared target's rollout starts with when the same document
// is applied, field for field. It held only what Controller.Check fills in
// (baseline, the planner's strategy, stages and bake), not the defaults the
// start then gives (the analysis's interval and checks, the last stage's
// sample, the warm-up, the rollback window), so a dry run showed a last
// stage of min_samples 0 where the rollout waits for 100.
func TestApplyDryRunWouldStartIsTheStart(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	const doc = `{"doc":{"models":[{"name":"chat","target":"v1.2.0","rollout":{"analysis":{"guards":["latency_p99"]}}}]},"reason":"ship"`
	r := e.do(t, "POST", "/admin/v1/apply", adminSecret, []byte(doc+`,"dry_run":true}`))
	if r.Status != http.StatusOK {
		t.Fatalf("dry run: %d: %s", r.Status, r.Body)
	}
	var dry api.Result
	if err := json.Unmarshal(r.Body, &dry); err != nil {
		t.Fatal(err)
	}
	r = e.do(t, "POST", "/admin/v1/apply", adminSecret, []byte(doc+`}`))
	if r.Status != http.StatusOK {
		t.Fatalf("apply: %d: %s", r.Status, r.Body)
	}
	var applied api.Result
	if err := json.Unmarshal(r.Body, &applied); err != nil {
		t.Fatal(err)
	}
	if len(dry.WouldStart) != 1 || len(applied.Rollouts) != 1 {
		t.Fatalf("the dry run would start %d rollouts, the apply started %d; want 1 each", len(dry.WouldStart), len(applied.Rollouts))
	}
	if got, want := dry.WouldStart[0], applied.Rollouts[0].Spec; !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("the dry run would start\n%s\nthe apply started\n%s", g, w)
	}
}
