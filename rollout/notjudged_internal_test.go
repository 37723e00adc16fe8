package rollout

import "testing"

// TestNotJudged_Text: the verdict's note on the requests an analysis left
// out names only the arms that had any, in one short clause, so a demo's
// two retried baseline requests do not add a line about the candidate.
func TestNotJudged_Text(t *testing.T) {
	const why = "routed outside the split by a pin, label, force header, rule or retry, or continuing a conversation the split did not begin"
	for _, tc := range []struct {
		left notJudged
		want string
	}{
		{notJudged{}, ""},
		{notJudged{baseline: 2}, " (not judged: 2 baseline requests " + why + ")"},
		{notJudged{candidate: 1}, " (not judged: 1 candidate request " + why + ")"},
		{notJudged{candidate: 412, baseline: 1}, " (not judged: 412 candidate and 1 baseline requests " + why + ")"},
	} {
		if got := tc.left.text(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.left, got, tc.want)
		}
	}
}
