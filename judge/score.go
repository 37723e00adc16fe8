package judge

import (
	"strconv"
	"strings"
)

// ParseScore reads a 0-10 grade from a judge's answer. It accepts, in order
// of preference: "Score: N" (also "score = N", "score is N", any case,
// Markdown emphasis around it ignored); "N/10" or "N out of 10"; and an
// answer that holds exactly one number. N may have a fraction ("7.5"). A
// grade outside 0-10, or an answer with no score or with several numbers and
// none marked as the score, gives ok false.
func ParseScore(text string) (score float64, ok bool) {
	lower := strings.ToLower(text)
	// "score: 8", searched from the end: graders that explain themselves
	// end with the verdict, and may mention a score before it.
	for end := len(lower); end > 0; {
		i := strings.LastIndex(lower[:end], "score")
		if i < 0 {
			break
		}
		end = i
		rest := strings.TrimLeft(lower[i+len("score"):], " \t*_")
		switch {
		case strings.HasPrefix(rest, ":"), strings.HasPrefix(rest, "="):
			rest = rest[1:]
		case strings.HasPrefix(rest, "is "):
			rest = rest[3:]
		default:
			continue
		}
		rest = strings.TrimLeft(rest, " \t*_")
		if v, _, ok := leadingNumber(rest); ok {
			return inRange(v)
		}
		if len(rest) > 1 && rest[0] == '-' && isDigit(rest[1]) {
			return 0, false // a negative score: out of range, whatever follows
		}
	}
	nums := numbers(lower)
	for _, n := range nums {
		after := strings.TrimLeft(lower[n.end:], " \t*_")
		for _, p := range []string{"/10", "/ 10", "out of 10"} {
			// "/10", not "/100": a grade out of 100 is not one out of 10.
			if strings.HasPrefix(after, p) && (len(after) == len(p) || !isDigit(after[len(p)])) {
				return inRange(n.v)
			}
		}
	}
	if len(nums) == 1 {
		return inRange(nums[0].v)
	}
	return 0, false
}

func inRange(v float64) (float64, bool) {
	if v < 0 || v > 10 {
		return 0, false
	}
	return v, true
}

// number is a number found in a text, with the offset just after it.
type number struct {
	v   float64
	end int
}

// numbers returns the unsigned decimal numbers in s that stand alone (not
// glued to letters, as in "gpt4").
func numbers(s string) []number {
	var out []number
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		if i > 0 && isWordByte(s[i-1]) {
			// Glued to a word or a sign ("gpt4", "-10", "v1.5"): skip the
			// whole number, not just its first digit, or its tail would be
			// read as a number of its own ("-25" as 5).
			for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
				i++
			}
			continue
		}
		v, n, ok := leadingNumber(s[i:])
		end := i + n
		if ok && (end == len(s) || !isLetter(s[end])) {
			out = append(out, number{v, end})
		}
		i = end
	}
	return out
}

// leadingNumber parses the decimal number at the start of s, returning its
// value and length.
func leadingNumber(s string) (float64, int, bool) {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n == 0 {
		return 0, 0, false
	}
	if n+1 < len(s) && s[n] == '.' && isDigit(s[n+1]) {
		n++
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	v, err := strconv.ParseFloat(s[:n], 64)
	return v, n, err == nil
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isLetter(c byte) bool   { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isWordByte(c byte) bool { return isLetter(c) || c == '_' || c == '.' || c == '-' }
