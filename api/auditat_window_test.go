package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// `sluice audit --at T` counts the requests logged within 5 minutes of T.
// Asked about a time less than 5 minutes ago, the window ran past now:
// the answer gave T + 5m as its end and its counts as the whole window's,
// though the rest of it had not happened yet (asked again later, the same
// question counted more). The window now ends now, and the answer says so.
func TestAuditAt_WindowEndsNow(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction))
	now := t0.Add(2 * time.Hour) // 12:00
	rows := []sluice.Observation{
		{RequestID: "before", At: now.Add(-3 * time.Minute), Model: "chat", Version: "v1.0.0", Route: "latest", Endpoint: "/v1/chat/completions", Status: 200},
		{RequestID: "now", At: now, Model: "chat", Version: "v1.0.0", Route: "latest", Endpoint: "/v1/chat/completions", Status: 200},
	}
	if err := e.Store.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	count := func(res []sluice.VersionCount) (n int64) {
		for _, c := range res {
			n += c.Count
		}
		return n
	}
	for _, tc := range []struct {
		name       string
		at         time.Time
		start, end time.Time
		endsNow    bool
		requests   int64
	}{
		{"Past", now.Add(-10 * time.Minute), now.Add(-15 * time.Minute), now.Add(-5 * time.Minute), false, 0},
		{"EndingNow", now.Add(-5 * time.Minute), now.Add(-10 * time.Minute), now, false, 2},
		{"TwoMinutesAgo", now.Add(-2 * time.Minute), now.Add(-7 * time.Minute), now, true, 2},
		{"Now", now, now.Add(-5 * time.Minute), now, true, 2},
		// A client's clock up to a minute ahead of the server's is taken
		// as now (AuditAtClockSkew); further ahead is refused
		// (TestAuditAt_FutureRefused), as an hour ahead now is.
		{"InAMinute", now.Add(time.Minute), now.Add(-4 * time.Minute), now, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Clock.Set(now)
			res, err := e.Viewer.AuditAt(ctx, "chat", tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if !res.WindowStart.Equal(tc.start) || !res.WindowEnd.Equal(tc.end) || res.WindowEndsNow != tc.endsNow {
				t.Errorf("at %s (now %s): window %s to %s (ends now: %v), want %s to %s (%v)", tc.at.Format("15:04"), now.Format("15:04"),
					res.WindowStart.Format("15:04:05"), res.WindowEnd.Format("15:04:05"), res.WindowEndsNow,
					tc.start.Format("15:04:05"), tc.end.Format("15:04:05"), tc.endsNow)
			}
			if got := count(res.Requests); got != tc.requests {
				t.Errorf("at %s: %d requests counted (%v), want %d", tc.at.Format("15:04"), got, res.Requests, tc.requests)
			}
		})
	}
}
