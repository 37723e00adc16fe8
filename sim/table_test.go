package sim

import (
	"strings"
	"testing"
)

func TestVirtual(t *testing.T) {
	for sec, want := range map[float64]string{0: "0s", 45: "45s", 60: "1m", 70: "1m10s", 3600: "1h", 3660: "1h1m", 5400: "1h30m", 7199: "2h"} {
		if got := virtual(sec); got != want {
			t.Errorf("virtual(%v) = %q, want %q", sec, got, want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	fr := 0.0
	res := []Result{{Scenario: "aa", Gates: []GateResult{{Gate: GateSequential, Summary: Summary{Promoted: 9, Inconclusive: 1, FalseRollbackRate: &fr}}}}}
	md := Markdown(res)
	if !strings.Contains(md, "| aa | sequential | 10 | 0.0% | 90.0% | 10.0% |") {
		t.Errorf("table:\n%s", md)
	}
	// The figures do not model the gateway's retries, and say so.
	if !strings.Contains(md, "retry on stable") || !strings.Contains(md, "not modelled") {
		t.Errorf("table without the note on retries:\n%s", md)
	}
}
