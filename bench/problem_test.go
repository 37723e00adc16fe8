package bench

import (
	"strings"
	"testing"
)

// TestSluiceProblem: a run in which Sluice was skipped or had errors says
// so (the CLI then exits non-zero, so CI's smoke run fails on a broken
// gateway); a clean run or one without Sluice does not.
func TestSluiceProblem(t *testing.T) {
	ok := &Results{Gateways: []GatewayInfo{{Name: "sluice"}}, Cells: []Cell{{Gateway: "sluice", Scenario: "chat", Concurrency: 16}}}
	if p := ok.SluiceProblem(); p != "" {
		t.Errorf("clean run: %q", p)
	}
	skipped := &Results{Gateways: []GatewayInfo{{Name: "nginx"}, {Name: "sluice", Skipped: "probe: HTTP 502"}}}
	if p := skipped.SluiceProblem(); !strings.Contains(p, "skipped: probe: HTTP 502") {
		t.Errorf("skipped: %q", p)
	}
	errs := &Results{HalfSat: []Cell{{Gateway: "sluice", Scenario: "chat", Rate: 1000, Errors: 3, FirstError: "HTTP 503"}}}
	if p := errs.SluiceProblem(); !strings.Contains(p, "3 errors in the chat cell at 1000 req/s: HTTP 503") {
		t.Errorf("errors: %q", p)
	}
	other := &Results{Cells: []Cell{{Gateway: "nginx", Errors: 5}}}
	if p := other.SluiceProblem(); p != "" {
		t.Errorf("nginx's errors blamed on sluice: %q", p)
	}
}
