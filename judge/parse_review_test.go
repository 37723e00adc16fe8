package judge_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"testing"

	"github.com/sluicehq/sluice/judge"
)

// A judge reply whose grade is out of range (negative, or a 0-100 scale) must
// not be read as a 0-10 score: a digit glued to a '-' or a preceding digit
// that numbers() skipped leaves the rest of the number to be read alone.
func TestParseScore_OutOfRangeNotCounted(t *testing.T) {
	for _, in := range []string{
		"Score: -10",       // read as 0
		"Score: -25",       // read as 5
		"Score: -3/10",     // read as 10
		"Rating: 8/100",    // read as 8 (0.8 of 10)
		"I'd say 9 / 100.", // read as 9
	} {
		if got, ok := judge.ParseScore(in); ok {
			t.Errorf("ParseScore(%q) = %v, true; want not parsed (out of range or not a 0-10 grade)", in, got)
		}
	}
}
