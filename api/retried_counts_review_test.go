package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// What the user does: runs a 50/50 split of chat between v1.0.0 and
// v1.1.0; one request goes to v1.1.0, fails, and the proxy retries it on
// stable v1.0.0, which answers. Since today the proxy logs both attempts
// under the same request id (the failed one with Retried set). The user
// then asks `sluice audit --at` "which version served chat at 12:30".
// What happens now: the request log counts say v1.1.0 served 1 request and
// v1.0.0 served 1: the retried attempt is counted as a request v1.1.0
// served, and the window shows 2 requests where the clients sent 1.
// What should happen: RoutingAt.Requests ("the logged requests per
// version", "which version served") counts each client request once, by
// the version that answered it: v1.0.0 1, v1.1.0 none.
func TestAuditAtCountsRetriedAttemptAsServed(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageStaging))
	e.Clock.Set(t0.Add(2 * time.Hour))
	if _, err := e.Oper.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, "", "widen"); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(2*time.Hour + 28*time.Minute)
	// The two rows proxy.forward now logs for one client request whose
	// attempt at the canary failed and was answered by stable.
	rows := []sluice.Observation{
		{RequestID: "req_1", At: at, Model: "chat", Version: "v1.1.0", Route: "split", Endpoint: "/v1/chat/completions", Status: 502, ErrorClass: "upstream_5xx", Retried: true},
		{RequestID: "req_1", At: at, Model: "chat", Version: "v1.0.0", Route: "retry", Endpoint: "/v1/chat/completions", Status: 200},
	}
	if err := e.Store.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(3 * time.Hour)) // asked at 13:00, the window to 12:35 over
	res, err := e.Viewer.AuditAt(ctx, "chat", t0.Add(2*time.Hour+30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var total int64
	for _, c := range res.Requests {
		got[c.Version] = c.Count
		total += c.Count
	}
	if got["v1.0.0"] != 1 || got["v1.1.0"] != 0 || total != 1 {
		t.Errorf("audit --at request counts = %v (total %d) for one client request answered by v1.0.0 after v1.1.0 failed; want v1.0.0: 1 and nothing served by v1.1.0", res.Requests, total)
	}
}
