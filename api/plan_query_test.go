package api_test

import (
	"net/http"
	"testing"
)

// TestPlanBadQuery: GET /admin/v1/plan/{model} read its query
// without checking it: a "from" version that is not registered and a
// "rate" that is not a number both gave 200 and a plan computed from
// nothing (the rate silently 0), and a missing "to" was a 404 about
// "version chat:" instead of a 4xx that names the missing parameter.
func TestPlanBadQuery(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	t.Run("UnknownFrom", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/plan/chat?to=v1.2.0&from=v0.0.1", viewerSecret, nil)
		if r.Status != http.StatusNotFound && r.Status != http.StatusUnprocessableEntity {
			t.Errorf("from=v0.0.1 (not registered): status %d, want 404 or 422 naming from", r.Status)
		}
	})
	t.Run("RateNotANumber", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/plan/chat?to=v1.2.0&rate=fast", viewerSecret, nil)
		if r.Status != http.StatusBadRequest {
			t.Errorf("rate=fast: status %d, want 400 naming rate", r.Status)
		}
	})
	t.Run("MissingTo", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/plan/chat", viewerSecret, nil)
		if r.Status != http.StatusUnprocessableEntity && r.Status != http.StatusBadRequest {
			t.Errorf("no to: status %d (%s), want 400/422 saying to add ?to=VERSION", r.Status, r.Err.Message)
		}
	})
}
