package api_test

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// TestParseWeightsTrailingGarbage: sluice set split parses
// VERSION=PERCENT with fmt.Sscanf("%g"), which stopped at the first
// character that is not part of a number, so "v1.2.0=5x" or a mistyped
// "v1.2.0=5.5.5" was accepted as 5 or 5.5 instead of being refused.
func TestParseWeightsTrailingGarbage(t *testing.T) {
	for _, arg := range []string{"v1.2.0=5x", "v1.2.0=5.5.5", "v1.2.0=50 %"} {
		if ws, err := sluice.ParseWeights([]string{arg}); err == nil {
			t.Errorf("ParseWeights(%q) = %v, want an error naming the weight", arg, ws)
		}
	}
}
