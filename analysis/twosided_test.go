package analysis

import (
	"strings"
	"testing"
)

// TestTwoSided: the metrics held within ±threshold are the lengths and the
// tool-call rate; the others are bounded on their worse side only.
func TestTwoSided(t *testing.T) {
	for metric, want := range map[string]bool{
		"output_tokens": true, "response_chars": true, "tool_call_rate": true,
		"error_rate": false, "cancel_rate": false, "refusal_rate": false, "cache_miss_rate": false,
		"latency_p50": false, "latency_p99": false, "ttft": false, "quality": false,
		"prom:tool_calls": false, "unknown": false,
	} {
		if got := TwoSided(metric); got != want {
			t.Errorf("TwoSided(%q) = %v, want %v", metric, got, want)
		}
	}
}

// TestTwoSidedMetrics: the list the dashboard's page carries is exactly
// the metrics TwoSided holds both ways.
func TestTwoSidedMetrics(t *testing.T) {
	got := strings.Join(TwoSidedMetrics(), " ")
	if want := "output_tokens response_chars tool_call_rate"; got != want {
		t.Errorf("TwoSidedMetrics() = %q, want %q", got, want)
	}
}
