package api_test

import (
	"net/http"
	"testing"
)

// /admin/v1/requests refuses an until before since, as /admin/v1/audit
// does (it answered an empty 200, which reads as "no requests").
func TestRequests_UntilBeforeSince(t *testing.T) {
	e := MustEnv(t)
	r := e.do(t, "GET", "/admin/v1/requests?since=2026-11-22T12:00:00Z&until=2026-11-22T11:00:00Z", viewerSecret, nil)
	if r.Status != http.StatusUnprocessableEntity {
		t.Errorf("until before since: status %d (%s), want 422", r.Status, r.Body)
	}
}
