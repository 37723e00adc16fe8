package sluice_test

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// TestCompareTags: a team tags release candidates before the release
// (v2.0.0-rc1, then v2.0.0); every "newest" (policy latest, version lists,
// the dashboard) must rank the release above its candidates, as semver
// precedence does, while dates and plain numbers keep their natural order.
func TestCompareTags(t *testing.T) {
	ascending := [][]string{
		{"v1.9.0", "v1.10.0"},
		{"2026-02-01", "2026-11-20"},
		{"v2.0.0-rc1", "v2.0.0"},
		{"v2.0.0-rc.1", "v2.0.0"},
		{"2.0.0-beta", "2.0.0"},
		{"v2.0.0-alpha", "v2.0.0-alpha.1", "v2.0.0-alpha.beta", "v2.0.0-beta", "v2.0.0-beta.2", "v2.0.0-beta.11", "v2.0.0-rc.1", "v2.0.0"},
		{"v1.0.0-1", "v1.0.0-alpha"}, // numeric identifiers rank below alphanumeric ones
		{"v2.0.0-rc9", "v2.0.0-rc10", "v2.0.0"},
		{"v1.9.9", "v2.0.0-rc1", "v2.0.0", "v2.0.1-rc1", "v2.0.1"},
		{"v2-rc1", "v2"},
		{"v2.0.0-rc1", "v2"}, // v2 is v2.0.0
		{"v2.1.0-rc1", "v2.1", "v2.1.1-rc1"},
		{"v2", "v2.0.1-rc1"},
		{"v2.0.0", "v2.0.0+build5"},
		// A date's dashes are not pre-releases: a suffixed date is later.
		{"2026-11-20", "2026-11-20-hotfix"},
		{"1", "1-2"},
	}
	for _, eq := range [][2]string{{"v2", "v2.0.0"}, {"v2.1", "v2.1.0"}, {"v3", "v3.0"}} {
		if got := sluice.CompareTags(eq[0], eq[1]); got != 0 {
			t.Errorf("CompareTags(%q, %q) = %d, want 0 (the same release)", eq[0], eq[1], got)
		}
		if got := sluice.CompareTags(eq[1], eq[0]); got != 0 {
			t.Errorf("CompareTags(%q, %q) = %d, want 0 (the same release)", eq[1], eq[0], got)
		}
	}
	for _, seq := range ascending {
		for i := range seq {
			for j := range seq {
				want := 0
				switch {
				case i < j:
					want = -1
				case i > j:
					want = 1
				}
				if got := sluice.CompareTags(seq[i], seq[j]); got != want {
					t.Errorf("CompareTags(%q, %q) = %d, want %d", seq[i], seq[j], got, want)
				}
			}
		}
	}
}
