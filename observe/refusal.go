package observe

import (
	"slices"
	"strings"
)

// RefusalPrefixBytes is how far into a response RefusalDetector.Match looks
// for the start of a phrase. Models refuse at the start of their answer; a
// phrase such as "I cannot" deep in a long answer is usually not a refusal,
// and looking only at the head keeps Match cheap.
const RefusalPrefixBytes = 200

// DefaultRefusalPhrases returns the phrases NewRefusalDetector uses when
// given none.
func DefaultRefusalPhrases() []string {
	return []string{
		"I cannot",
		"I can't",
		"I am unable",
		"I'm unable",
		"I don't have access",
		"I do not have access",
		"As an AI",
		"I'm sorry, but I can't",
		"I won't be able to",
	}
}

// RefusalDetector tells whether a response text reads as a refusal, by
// looking for one of a list of phrases. It is immutable and safe for
// concurrent use.
type RefusalDetector struct {
	phrases []phrase // sorted by first byte
	// span holds, for each first byte, the range of phrases starting with
	// it (lo == hi when none).
	span [256]struct{ lo, hi uint16 }
}

// phrase is one refusal phrase, ASCII-lowercased, apostrophes as '.
type phrase struct {
	b      []byte
	second byte // b[1], or 0 for a one-byte phrase
}

// NewRefusalDetector returns a detector for phrases; nil or empty means
// DefaultRefusalPhrases. Blank phrases are ignored.
//
// Matching ignores ASCII case; an apostrophe in a phrase also matches the
// typographic one (U+2019) models often write, and a space matches any run of
// spaces, tabs and newlines. A phrase that starts (ends) with a letter or
// digit must not be preceded (followed) by one, so "As an AI" does not match
// "as an aide".
func NewRefusalDetector(phrases []string) *RefusalDetector {
	if len(phrases) == 0 {
		phrases = DefaultRefusalPhrases()
	}
	d := &RefusalDetector{}
	for _, p := range phrases {
		p = strings.Join(strings.Fields(p), " ")
		if p == "" {
			continue
		}
		p = strings.ReplaceAll(p, "\u2019", "'")
		b := []byte(p)
		for i, c := range b {
			b[i] = lower(c)
		}
		ph := phrase{b: b}
		if len(b) > 1 {
			ph.second = b[1]
		}
		d.phrases = append(d.phrases, ph)
	}
	slices.SortStableFunc(d.phrases, func(a, b phrase) int { return int(a.b[0]) - int(b.b[0]) })
	for i, p := range d.phrases {
		sp := &d.span[p.b[0]]
		if sp.hi == 0 {
			sp.lo = uint16(i)
		}
		sp.hi = uint16(i + 1)
	}
	return d
}

// Match reports whether text contains one of the phrases starting within its
// first RefusalPrefixBytes bytes (the phrase itself may run past them). It
// does not allocate.
func (d *RefusalDetector) Match(text []byte) bool {
	n := min(len(text), RefusalPrefixBytes)
	for i := 0; i < n; {
		c := lower(text[i])
		if sp := d.span[c]; sp.lo < sp.hi {
			var next byte // compared inline before the call to matchAt
			if i+1 < len(text) {
				next = text[i+1]
			}
			for _, p := range d.phrases[sp.lo:sp.hi] {
				if (len(p.b) == 1 || same(p.second, next)) && matchAt(text, i, p.b) {
					return true
				}
			}
		}
		// A phrase starting with a letter or digit starts a word, so skip
		// the rest of this one.
		i++
		if isWord(c) {
			for i < n && isWord(text[i]) {
				i++
			}
		}
	}
	return false
}

// matchAt reports whether phrase p occurs in text at i.
func matchAt(text []byte, i int, p []byte) bool {
	k := i
	for _, pc := range p {
		if k >= len(text) {
			return false
		}
		switch pc {
		case '\'':
			if text[k] == '\'' {
				k++
			} else if k+3 <= len(text) && text[k] == 0xE2 && text[k+1] == 0x80 && text[k+2] == 0x99 {
				k += 3
			} else {
				return false
			}
		case ' ':
			if !isSpace(text[k]) {
				return false
			}
			for k < len(text) && isSpace(text[k]) {
				k++
			}
		default:
			if lower(text[k]) != pc {
				return false
			}
			k++
		}
	}
	return !isWord(p[len(p)-1]) || k >= len(text) || !isWord(text[k])
}

// Byte tables, so the scan does one load per byte rather than comparisons.
var (
	lowerTab [256]byte
	wordTab  [256]bool
)

func init() {
	for c := range 256 {
		b := byte(c)
		lowerTab[c] = b
		if 'A' <= b && b <= 'Z' {
			lowerTab[c] = b + ('a' - 'A')
		}
		wordTab[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9'
	}
}

// same reports whether text byte tc can stand for phrase byte pc at the
// start of a match.
func same(pc, tc byte) bool {
	switch pc {
	case ' ':
		return isSpace(tc)
	case '\'':
		return tc == '\'' || tc == 0xE2
	}
	return lower(tc) == pc
}

// lower folds ASCII upper case.
func lower(c byte) byte { return lowerTab[c] }

// isWord reports whether c is an ASCII letter or digit.
func isWord(c byte) bool { return wordTab[c] }

// isSpace reports whether c is ASCII white space.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}
