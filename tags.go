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
// so v2 > v2.0.0-rc1.
//
// Date tags (CalVer) follow PEP 440's reading instead, whatever their
// separators: a suffix that names a pre-release ranks below the bare date,
// any other suffix (a hotfix, a patch, a post-release) above it,
// so 2026.11.20-rc1 < 2026.11.20 < 2026.11.20-hotfix, where semver would
// take the dotted 2026.11.20-hotfix for a pre-release (see compareDates).
func CompareTags(a, b string) int {
	if da, ok := parseDate(a); ok {
		if db, ok := parseDate(b); ok && da.prefix == db.prefix {
			return compareDates(da, db)
		}
	}
	return compareSemver(a, b)
}

// compareSemver is CompareTags for tags other than dates: the natural
// order, with semver's pre-releases.
func compareSemver(a, b string) int {
	c, ra, rb := naturalPrefix(a, b)
	if c != 0 {
		return c
	}
	// One tag ended where the other goes on: the longer one is newer,
	// unless it goes on with a pre-release of the shorter one's release.
	switch {
	case ra == "" && rb == "":
		return 0
	case ra == "":
		return -tagGoesOn(rb, a)
	default:
		return tagGoesOn(ra, b)
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

// dateTag is a tag whose first number is a date: a 4-digit year (2026,
// 2026.11, 2026-11-20, 2026_11_20) or an 8-digit yyyymmdd (20261120).
type dateTag struct {
	// prefix is what comes before the date, such as "v" or "release-".
	prefix string
	// core is the date and any numbers that follow it, each joined to the
	// previous one by '.', '-' or '_': "2026.11.20", "2026-11-20-2".
	core string
	// suffix is the rest, from the first character that does not go on
	// with the core: "-hotfix", "rc1", ".post1".
	suffix string
}

// parseDate splits tag into a dateTag, or reports that its first number
// is not a date.
func parseDate(tag string) (dateTag, bool) {
	i := strings.IndexFunc(tag, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return dateTag{}, false
	}
	d := dateTag{prefix: tag[:i]}
	first, rest := leadingDigits(tag[i:])
	if n := len(trimZeros(first)); n != 4 && n != 8 {
		return dateTag{}, false
	}
	for len(rest) > 1 && strings.IndexByte(".-_", rest[0]) >= 0 && isDigit(rest[1]) {
		_, rest = leadingDigits(rest[1:])
	}
	d.core = tag[i : len(tag)-len(rest)]
	d.suffix = rest
	return d, true
}

// preReleases ranks the words that make a date's suffix a pre-release, as
// PEP 440 does (dev < alpha < beta < release candidate, with its spellings
// a, b, c, pre and preview); canary builds rank with dev builds, the least
// finished.
var preReleases = map[string]int{
	"dev": 0, "canary": 0,
	"a": 1, "alpha": 1,
	"b": 2, "beta": 2,
	"c": 3, "rc": 3, "pre": 3, "preview": 3,
}

// datePreRelease reports whether suffix names a pre-release: one of the
// words of preReleases (in any case) after an optional '.', '-' or '_',
// followed by nothing but digits and separators ("-rc1", "rc.2", "beta",
// ".dev3"). It returns the word's rank and the number after it.
func datePreRelease(suffix string) (rank int, number string, ok bool) {
	s := suffix
	if s != "" && strings.IndexByte(".-_", s[0]) >= 0 {
		s = s[1:]
	}
	j := 0
	for j < len(s) && (s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z') {
		j++
	}
	rank, ok = preReleases[strings.ToLower(s[:j])]
	if !ok || strings.TrimLeft(s[j:], "0123456789.-_") != "" {
		return 0, "", false
	}
	return rank, strings.TrimLeft(s[j:], ".-_"), true
}

// compareDates orders two date tags of one prefix: by their cores, in
// natural order (2026.11 < 2026.11.3 < 2026.11.20 < 2026.11.20.1); for one
// core, pre-releases (by kind, then number: dev, alpha, beta, rc) before
// the bare date, before any other suffix (in natural order, leading
// separator aside). This is PEP 440's order for the suffixes it knows
// (pre-releases below, .postN and -N above), and it ranks
// the suffixes it does not know (hotfix, patch, fix, p1) as teams that tag
// 2026.11.20-hotfix mean them: after the release they fix.
func compareDates(a, b dateTag) int {
	if c := compareNatural(a.core, b.core); c != 0 {
		return c
	}
	ka, ra, na := dateSuffixClass(a.suffix)
	kb, rb, nb := dateSuffixClass(b.suffix)
	if c := cmp.Compare(ka, kb); c != 0 {
		return c
	}
	if c := cmp.Compare(ra, rb); c != 0 {
		return c
	}
	return compareNatural(na, nb)
}

// dateSuffixClass classes a date's suffix: -1 for a pre-release (with its
// rank and number), 0 for none, 1 for any other (with the suffix less its
// leading separator, to compare).
func dateSuffixClass(suffix string) (class, rank int, rest string) {
	if suffix == "" {
		return 0, 0, ""
	}
	if rank, number, ok := datePreRelease(suffix); ok {
		return -1, rank, number
	}
	if strings.IndexByte(".-_", suffix[0]) >= 0 {
		suffix = suffix[1:]
	}
	return 1, 0, suffix
}

// compareNatural orders a and b naturally, a tag that goes on after the
// other ends being newer: the plain order, with none of semver's
// exceptions.
func compareNatural(a, b string) int {
	c, a, b := naturalPrefix(a, b)
	if c != 0 {
		return c
	}
	return cmp.Compare(len(a), len(b))
}

// naturalPrefix compares a and b naturally (runs of digits as numbers,
// other bytes as bytes) until they differ (c != 0) or one ends; then it
// returns what is left of each (one or both empty).
func naturalPrefix(a, b string) (c int, ra, rb string) {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, ra := leadingDigits(a)
			nb, rb := leadingDigits(b)
			if c := cmp.Compare(len(trimZeros(na)), len(trimZeros(nb))); c != 0 {
				return c, "", ""
			}
			if c := cmp.Compare(trimZeros(na), trimZeros(nb)); c != 0 {
				return c, "", ""
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0]), "", ""
		}
		a, b = a[1:], b[1:]
	}
	return 0, a, b
}
