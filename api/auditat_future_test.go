package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestAuditAt_FutureRefused: the API answered /audit/at for a time still
// to come with the routing in force now and an empty window, as if it had
// served then (only the CLI refused it, so another client read it as
// history). A time more than AuditAtClockSkew past the server's clock is
// now a 422 naming the parameter, the server's clock and where to see the
// routing in force now; up to that allowance, the time is taken as now.
func TestAuditAt_FutureRefused(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction))
	now := t0.Add(2 * time.Hour)
	e.Clock.Set(now)
	for _, ahead := range []time.Duration{api.AuditAtClockSkew + time.Second, time.Hour, 365 * 24 * time.Hour} {
		_, err := e.Viewer.AuditAt(ctx, "chat", now.Add(ahead))
		wantErr(t, err, sluice.CodeInvalid, []string{"at"}, "is in the future", "the server's clock reads "+now.Format(time.RFC3339), "sluice get routes chat", "give a time up to now")
	}
	q := url.Values{"model": {"chat"}, "at": {now.Add(time.Hour).Format(time.RFC3339)}}
	r := e.do(t, "GET", "/admin/v1/audit/at?"+q.Encode(), viewerSecret, nil)
	r.want(t, http.StatusUnprocessableEntity, "at "+now.Add(time.Hour).Format(time.RFC3339)+" is in the future")
	r.wantFields(t, "at")

	res, err := e.Viewer.AuditAt(ctx, "chat", now.Add(api.AuditAtClockSkew))
	if err != nil {
		t.Fatalf("a time within the clock allowance: %v", err)
	}
	if !res.WindowEndsNow || !res.WindowEnd.Equal(now) {
		t.Errorf("within the allowance: window ends %s (ends now: %v), want now %s", res.WindowEnd, res.WindowEndsNow, now)
	}
}
