package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestCLI_OutcomeFilterOlderGateway: a gateway older than --failed,
// --retry-budget-spent, --category and --route ignores ?failed=,
// ?retry_budget_spent=, ?category= and ?route= as any
// query parameter it does not know, and answers every request, which the
// CLI showed as the failed ones (an SRE chasing a canary's errors read its
// successes as failures). The CLI refuses such an answer and says to
// upgrade, as it does for --replica. A proxy in front of a real gateway
// drops the four parameters as an older gateway does.
func TestCLI_OutcomeFilterOlderGateway(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	now := time.Now().UTC()
	var rows []sluice.Observation
	for i, o := range []sluice.Observation{
		{Route: "split", Category: "general", Status: 200},
		{Route: "pin", Category: "code", Status: 502, ErrorClass: "upstream_5xx", RetryBudgetSpent: true},
	} {
		o.RequestID, o.At, o.Model, o.Version = fmt.Sprintf("req_outcome_%d", i), now.Add(-time.Duration(3-i)*time.Second), "chat", "v1.1.0"
		rows = append(rows, o)
	}
	if err := gw.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	via := olderGateway(t, gw.AdminURL(), cmd, "failed", "category", "route", "retry_budget_spent")
	filters := [][]string{
		{"requests", "--failed"},
		{"requests", "chat", "--retry-budget-spent"},
		{"requests", "chat", "--category", "code", "-o", "json"},
		{"requests", "--route", "pin"},
	}
	for _, args := range filters {
		stdout, stderr, code := run(t, via(args...)...)
		if code == 0 || !strings.Contains(stderr, "upgrade") || strings.Contains(stdout, "req_outcome") {
			t.Errorf("%s through an older gateway: exit %d, stdout %q, stderr %q; want a refusal saying to upgrade it", strings.Join(args, " "), code, stdout, stderr)
		}
	}
	// The gateway itself: the failed row alone, no refusal.
	for _, args := range filters {
		stdout, stderr, code := run(t, cmd(args...)...)
		if code != 0 || !strings.Contains(stdout, "req_outcome_1") || strings.Contains(stdout, "req_outcome_0") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want the failed pinned code row alone", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}
