package fakellm

import (
	"strings"
	"unicode/utf8"
)

// words is the vocabulary of generated answers. Every word is plain ASCII so
// generated text can be copied into JSON without escaping.
var words = [...]string{
	"the", "model", "answers", "your", "question", "with", "a", "short",
	"and", "careful", "explanation", "of", "each", "step", "in", "order",
	"first", "consider", "data", "then", "check", "result", "against", "known",
	"cases", "so", "that", "we", "can", "trust", "final", "value",
	"this", "approach", "keeps", "latency", "low", "while", "quality", "stays",
	"high", "for", "most", "requests", "under", "normal", "load", "today",
	"users", "often", "ask", "about", "code", "text", "math", "plans",
	"it", "is", "simple", "to", "follow", "every", "line", "here",
}

// corpusTokens is how many tokens of generated text are precomputed; longer
// answers are built on demand.
const corpusTokens = 8192

var (
	// corpus holds the first corpusTokens tokens of generated text; the
	// answer of n tokens is corpus[:corpusEnd[n]], shared and never copied.
	corpus    string
	corpusEnd [corpusTokens + 1]int
)

func init() {
	var sb strings.Builder
	for i := 0; i < corpusTokens; i++ {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(wordAt(i))
		corpusEnd[i+1] = sb.Len()
	}
	corpus = sb.String()
}

// wordAt returns the i-th word of generated text. The stride makes the text
// look less periodic than cycling through the vocabulary in order.
func wordAt(i int) string {
	return words[(i*7+i/len(words))%len(words)]
}

// GeneratedText returns the deterministic answer of n tokens (words) that the
// fake model gives when it neither fails nor refuses. Up to 8192 tokens the
// result shares memory with a precomputed corpus and does not allocate.
func GeneratedText(n int) string {
	if n <= 0 {
		return ""
	}
	if n <= corpusTokens {
		return corpus[:corpusEnd[n]]
	}
	var sb strings.Builder
	sb.Grow(len(corpus) + (n-corpusTokens)*7)
	sb.WriteString(corpus)
	for i := corpusTokens; i < n; i++ {
		sb.WriteByte(' ')
		sb.WriteString(wordAt(i))
	}
	return sb.String()
}

// nextToken returns the token of s starting at byte pos and the position of
// the one after it. A token is a run of non-spaces with the space before it,
// which is how streamed chunks split an answer: "a", " b", " c".
func nextToken(s string, pos int) (tok string, next int) {
	if pos >= len(s) {
		return "", len(s)
	}
	end := pos + 1
	for end < len(s) && s[end] != ' ' {
		end++
	}
	return s[pos:end], end
}

// CountTokens returns the number of output tokens in s under the fake
// tokenizer, where a token is a word.
func CountTokens(s string) int {
	n := 0
	for pos := 0; pos < len(s); n++ {
		_, pos = nextToken(s, pos)
	}
	return n
}

// truncateTokens returns the first n tokens of s.
func truncateTokens(s string, n int) string {
	pos := 0
	for i := 0; i < n && pos < len(s); i++ {
		_, pos = nextToken(s, pos)
	}
	return s[:pos]
}

// EstimateTokens approximates the number of prompt tokens in a text of
// nbytes bytes: one token per four bytes, rounded up, and at least one for
// any non-empty text.
func EstimateTokens(nbytes int) int {
	if nbytes <= 0 {
		return 0
	}
	return (nbytes + 3) / 4
}

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONBody(dst, s)
	return append(dst, '"')
}

// fromCorpus reports whether s is generated text, which needs no escaping.
// When s shares the corpus's memory, as GeneratedText's results and their
// tokens do, the comparison is a pointer check.
func fromCorpus(s string) bool {
	return len(s) <= len(corpus) && s == corpus[:len(s)]
}

const hexDigits = "0123456789abcdef"

// plain8 reports whether 8 bytes need no JSON escaping: all ASCII, none a
// control character, quote or backslash. Testing a word at a time makes the
// common case (generated text) several times faster than byte by byte.
func plain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	bad := (x - ones*0x20) | (q - ones) | (b - ones)
	return (bad|x)&highs == 0
}

// appendJSONBody appends s escaped for the inside of a JSON string. Invalid
// UTF-8 becomes U+FFFD, as encoding/json does.
func appendJSONBody(dst []byte, s string) []byte {
	if fromCorpus(s) {
		return append(dst, s...)
	}
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
