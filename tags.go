package sluice

import (
	"cmp"
	"strings"
)

// CompareTags orders version tags naturally: runs of digits compare as
// numbers, so v1.10.0 > v1.9.0 and 2026-11-20 > 2026-02-01. A semver
// pre-release ranks below its release, as semver precedence has it:
// v2.0.0-rc1 < v2.0.0 < v2.0.1-rc1 (a tag whose core is MAJOR.MINOR.PATCH,
// or vMAJOR or vMAJOR.MINOR, followed by "-"). Between pre-releases the
// natural order holds, which agrees with semver's (numeric identifiers
// below alphanumeric ones, alpha < alpha.1 < beta) except that digits
// inside an identifier compare as numbers: rc10 > rc9, where semver would
// compare the text. The semver shorthands are their release: v2 = v2.0.0,
// so v2 > v2.0.0-rc1. A date's dashes are not pre-releases:
// 2026-11-20-hotfix > 2026-11-20 (a dotted date with a suffix,
// 2026.11.20-hotfix, has semver's form and counts as a pre-release).
func CompareTags(a, b string) int {
	a0, b0 := a, b
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := leadingDigits(a)
			nb, rb := leadingDigits(b)
			if c := cmp.Compare(len(trimZeros(na)), len(trimZeros(nb))); c != 0 {
				return c
			}
			if c := cmp.Compare(trimZeros(na), trimZeros(nb)); c != 0 {
				return c
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	// One tag ended where the other goes on: the longer one is newer,
	// unless it goes on with a pre-release of the shorter one's release.
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -tagGoesOn(b, a0)
	default:
		return tagGoesOn(a, b0)
	}
}

// tagGoesOn orders a tag that goes on with rest after where shorter ended
// (the two were equal up to there): newer (1), unless rest is a
// pre-release of shorter's release (-1), or only spells out shorter's
// zeros (0: v2 is v2.0.0, and v2 > v2.0.0-rc1).
func tagGoesOn(rest, shorter string) int {
	if !semverCore(shorter) {
		return 1
	}
	for strings.HasPrefix(rest, ".") {
		n, r := leadingDigits(rest[1:])
		if n == "" || trimZeros(n) != "0" {
			break
		}
		rest = r
	}
	switch {
	case rest == "":
		return 0
	case rest[0] == '-':
		return -1
	}
	return 1
}

// semverCore reports whether tag is a release in semver form: MAJOR.MINOR.PATCH
// with an optional leading v, or the shorthands vMAJOR and vMAJOR.MINOR.
func semverCore(tag string) bool {
	v := tag != "" && (tag[0] == 'v' || tag[0] == 'V')
	if v {
		tag = tag[1:]
	}
	parts := 0
	for {
		n, rest := leadingDigits(tag)
		if n == "" {
			return false
		}
		parts++
		if rest == "" {
			return parts == 3 || (v && parts < 3)
		}
		if rest[0] != '.' || parts == 3 {
			return false
		}
		tag = rest[1:]
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func leadingDigits(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
