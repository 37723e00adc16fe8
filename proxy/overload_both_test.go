package proxy_test

import (
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: the split sends a request to a candidate whose
// backend refuses it for load, and stable, where it is retried, refuses it
// too.
// What must happen: one retry, no more: the client gets stable's own
// refusal (its Retry-After, not the candidate's), each backend got the
// request once, the request log holds the candidate's retried row and
// stable's row (route retry), both upstream_overloaded, and outlier
// ejection counts neither.
func TestOverloadedCandidateAndStable(t *testing.T) {
	stable, ns := overloadedBackend(t, 429, "Retry-After", "5")
	cand, nc := overloadedBackend(t, 429, "Retry-After", "2")
	log, res := &spyLog{}, newResults()
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, stable, cand, 0), Log: log, OnResult: res.on})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","user":"u1","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "5" || resp.Header.Get("X-Model-Version") != "chat:v1" {
		t.Fatalf("status %d Retry-After %q from %q, want stable's 429 with its Retry-After 5: %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-Model-Version"), body)
	}
	if ns.Load() != 1 || nc.Load() != 1 {
		t.Errorf("stable's backend got %d requests, the candidate's %d, want 1 each", ns.Load(), nc.Load())
	}
	waitFor(t, "two rows", func() bool { return len(log.all()) == 2 })
	rows := log.all()
	if o := rows[0]; o.Version != "v2" || o.ErrorClass != sluice.ClassOverloaded || !o.Retried || o.Route != "split" || o.Status != 429 {
		t.Errorf("candidate's row %+v, want v2 split retried 429 %s", o, sluice.ClassOverloaded)
	}
	if o := rows[1]; o.Version != "v1" || o.ErrorClass != sluice.ClassOverloaded || o.Retried || o.Route != "retry" || o.Status != 429 {
		t.Errorf("stable's row %+v, want v1 retry 429 %s, not retried", o, sluice.ClassOverloaded)
	}
	for _, id := range []string{"chat:v1", "chat:v2"} {
		if f, ok := res.get(id); f != 0 || ok != 0 {
			t.Errorf("outlier ejection saw %d failures and %d successes of %s, want neither", f, ok, id)
		}
	}
}
