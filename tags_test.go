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

// TestCompareTags_DateSuffix: a team that tags by date ships a hotfix of
// 2026.11.20 as 2026.11.20-hotfix and means it to be newer, while semver's
// reading made the dotted form a pre-release, ranked below 2026.11.20, so
// policy latest kept serving the broken build. Date tags follow PEP 440:
// a suffix naming a pre-release ranks below the bare date, any other one
// above it.
func TestCompareTags_DateSuffix(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ascending []string
	}{
		{"DottedHotfix", []string{"2026.11.20", "2026.11.20-hotfix"}},
		{"DottedHotfixAboveCandidate", []string{"2026.11.20-rc1", "2026.11.20", "2026.11.20-hotfix", "2026.11.21-rc1", "2026.11.21"}},
		{"DashedDate", []string{"2026-11-20-rc1", "2026-11-20", "2026-11-20-hotfix"}},
		{"Yyyymmdd", []string{"20261120-beta", "20261120", "20261120-patch1", "20261121"}},
		{"YearMonth", []string{"2026.10", "2026.11-rc1", "2026.11", "2026.11-fix", "2026.11.1"}},
		{"Prefixed", []string{"v2026.11.20-rc.1", "v2026.11.20", "v2026.11.20-hotfix"}},
		{"PreReleaseKinds", []string{"2026.11.20.dev1", "2026.11.20a1", "2026.11.20-alpha.2", "2026.11.20b1", "2026.11.20-beta.3", "2026.11.20rc1", "2026.11.20-rc2", "2026.11.20-rc10", "2026.11.20"}},
		{"CanaryAndPreview", []string{"2026.11.20-canary", "2026.11.20-preview", "2026.11.20"}},
		{"PostReleases", []string{"2026.11.20", "2026.11.20-hotfix", "2026.11.20-hotfix2", "2026.11.20-patch", "2026.11.20.post1"}},
		{"NumberAfterDate", []string{"2026.11.20", "2026.11.20-1", "2026.11.20-2", "2026.11.20.10"}},
		{"CandidateOfHotfixIsNoCandidate", []string{"2026.11.20", "2026.11.20-rc1-hotfix"}},
		{"CaseInsensitiveWords", []string{"2026.11.20-RC1", "2026.11.20"}},
		// Semver keeps semver's rule: not a date (one- to three-digit major).
		{"SemverUnchanged", []string{"v2.0.0-hotfix", "v2.0.0", "v2.0.1"}},
		{"SemverCandidates", []string{"v2.0.0-rc1", "v2", "v2.0.1-rc1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkAscending(t, tc.ascending)
		})
	}
	for _, eq := range [][2]string{{"2026.11.20-rc.1", "2026.11.20rc1"}, {"2026.11.20-a1", "2026.11.20-alpha1"}, {"v2", "v2.0.0"}} {
		if got := sluice.CompareTags(eq[0], eq[1]); got != 0 {
			t.Errorf("CompareTags(%q, %q) = %d, want 0 (the same release)", eq[0], eq[1], got)
		}
	}
}

// TestCompareTags_TotalOrder: the version lists sort with CompareTags, so
// over a mix of semver, date and other tags it must be a consistent order
// (antisymmetric and transitive), or a sort could list them differently
// from run to run. (A registered tag holds letters, digits, '.', '_', '-'
// and '/' only: semver's "+build", which would sort between a release and
// its pre-release by byte, cannot be registered.)
func TestCompareTags_TotalOrder(t *testing.T) {
	tags := []string{"v1.9.0", "v2.0.0-rc1", "v2", "v2.0.0", "v2.0.0.1", "v2.0.0-rc1.x", "2.0.0-beta", "1", "1-2",
		"2026.11.20", "2026.11.20-rc1", "2026.11.20-hotfix", "2026.11.20_b", "2026.11.20/x", "2026-11-20", "2026-11-20-rc1",
		"02026.11.20", "2026.11.20-1", "20261120", "20261120-rc1", "v2026.11.20", "v2026.11.20-rc1", "va2026",
		"release-2026.11.20", "release-2026.11.20-rc1", "release-1.0", "abc", "ab", "2026", "2026rc1", "999.1.0-x", "12345.1"}
	c := func(a, b string) int { return sluice.CompareTags(a, b) }
	for _, a := range tags {
		for _, b := range tags {
			if c(a, b) != -c(b, a) {
				t.Errorf("CompareTags(%q, %q) = %d but CompareTags(%q, %q) = %d", a, b, c(a, b), b, a, c(b, a))
			}
			for _, x := range tags {
				if c(a, b) <= 0 && c(b, x) <= 0 && c(a, x) > 0 {
					t.Errorf("%q <= %q <= %q, but CompareTags(%q, %q) = %d", a, b, x, a, x, c(a, x))
				}
			}
		}
	}
}

// checkAscending checks that CompareTags orders seq as given.
func checkAscending(t *testing.T, seq []string) {
	t.Helper()
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
