package analysis

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestLatencyFloor_TextKeepsSideOfFloor: a change or an end a hair past
// the +2 ms floor, rounded to three digits, read "+2 ms" beside
// "threshold +2 ms": a failed row "(+2 ms, threshold +2 ms)" and a row not
// yet shown within it "(up to +2 ms, threshold +2 ms)", each saying it
// is at the threshold, which would pass. The text keeps the side of the
// floor the decision took.
func TestLatencyFloor_TextKeepsSideOfFloor(t *testing.T) {
	r := newRow(&mP99, "", 1000, 1000)
	r.tested, r.floorRules = true, true
	r.mv.Baseline, r.mv.Candidate = 0.5, 2.5004 // +2.0004 ms: beyond the floor
	r.mv.ThresholdMS, r.mv.Threshold = 2, 4
	r.mv.Effect = relChange(r.mv.Candidate, r.mv.Baseline)
	r.mv.Lower, r.mv.Upper = 1, 5
	r.msLo, r.msHi = 0.3, 2.0003 // past the floor: not within
	r.mv.Outcome = sluice.OutcomeFail
	for name, s := range map[string]string{"describe": describe(&r), "bound": bound(&r), "detail": detail(&r)} {
		for _, at := range []string{"(+2 ms, threshold +2 ms)", "up to +2 ms, threshold", "to +2 ms, p ="} {
			if strings.Contains(s, at) {
				t.Errorf("%s %q: a change past the +2 ms floor reads as at it", name, s)
			}
		}
	}
	if got, want := describe(&r), "(+2.0004 ms, threshold +2 ms)"; !strings.Contains(got, want) {
		t.Errorf("describe %q; want %q", got, want)
	}
	if got, want := bound(&r), "(up to +2.0003 ms, threshold +2 ms)"; !strings.Contains(got, want) {
		t.Errorf("bound %q; want %q", got, want)
	}
	// Elsewhere three significant digits, as before.
	r.mv.Candidate, r.msHi = 3.1234, 4.5678
	if got, want := bound(&r), "(up to +4.57 ms, threshold +2 ms)"; !strings.Contains(got, want) {
		t.Errorf("bound %q; want %q", got, want)
	}
	if got, want := describe(&r), "(+2.62 ms, threshold +2 ms)"; !strings.Contains(got, want) {
		t.Errorf("describe %q; want %q", got, want)
	}
}
