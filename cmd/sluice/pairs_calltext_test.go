package main

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// TestToolCallText_Cut: the TOOL CALL column of a pair whose calls are the
// same as far as kept, both cut short, says so rather than "same calls".
func TestToolCallText_Cut(t *testing.T) {
	for calls, want := range map[string]string{
		sluice.CallsSame:      "both, same calls",
		sluice.CallsArguments: "both, other arguments",
		sluice.CallsCut:       "both, same as far as kept (arguments cut)",
	} {
		if got := toolCallText(sluice.ShadowDiff{ToolCall: "both", Calls: calls}); got != want {
			t.Errorf("calls %q: %q, want %q", calls, got, want)
		}
	}
}
