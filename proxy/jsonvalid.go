package proxy

import "encoding/binary"

// validJSON reports whether b is one JSON value (RFC 8259), with only white
// space around it, as encoding/json.Valid does: what a backend's parser
// takes. (Bytes that are not UTF-8 inside a string are passed, as they
// were: some backends take them.) The walker (scanRequest) and gjson read
// the fields the proxy needs and no more, so a body broken after them (a
// missing comma in a message, a single-quoted string) reaches the backend;
// validJSON runs only once the backend refused it (clientBodyClass), so
// that its 400 does not count against the version, and never on a request
// that succeeds. A string's bytes, most of a request, are passed over
// eight at a time (about 0.1 ns a byte, where gjson.ValidBytes takes about
// 1 ns: BenchmarkRequestBody_Valid), and it allocates nothing.
func validJSON(b []byte) bool {
	i, ok := validValue(b, skipWS(b, 0), 0)
	return ok && skipWS(b, i) == len(b)
}

// maxValidDepth bounds the nesting validJSON follows, as encoding/json's
// decoder does; deeper is refused.
const maxValidDepth = 10000

// validValue returns the index after the JSON value at b[i] and whether
// it is valid; depth is the arrays and objects it lies in.
func validValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i)
	case c == '{':
		if depth >= maxValidDepth {
			return 0, false
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, false
			}
			var ok bool
			if i, ok = validString(b, i); !ok {
				return 0, false
			}
			if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
				return 0, false
			}
			if i, ok = validValue(b, skipWS(b, i+1), depth+1); !ok {
				return 0, false
			}
			var end bool
			if i, end, ok = validNext(b, i, '}'); !ok || end {
				return i, ok
			}
		}
	case c == '[':
		if depth >= maxValidDepth {
			return 0, false
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = validValue(b, i, depth+1); !ok {
				return 0, false
			}
			var end bool
			if i, end, ok = validNext(b, i, ']'); !ok || end {
				return i, ok
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return validNumber(b, i)
	case c == 't':
		return i + 4, hasAt(b, i, "true")
	case c == 'f':
		return i + 5, hasAt(b, i, "false")
	case c == 'n':
		return i + 4, hasAt(b, i, "null")
	}
	return 0, false
}

// validNext reads what follows a member or element at b[i]: a comma
// (the index of the next one's start) or close (the index after it, and
// end).
func validNext(b []byte, i int, close byte) (next int, end, ok bool) {
	if i = skipWS(b, i); i >= len(b) {
		return 0, false, false
	}
	switch b[i] {
	case ',':
		return skipWS(b, i+1), false, true
	case close:
		return i + 1, true, true
	}
	return 0, false, false
}

// validNumber returns the index after the number at b[i]:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	return i, true
}

// The bytes of a word: each byte one, and each byte's high bit.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether none of the eight bytes of x (read from a
// string's inside) ends the string or needs a look: a quote, a backslash
// or a control character (below 0x20, which JSON forbids unescaped).
// (x-ones*n) & ^x & highs is not zero exactly when some byte is below n
// (n at most 128); a byte equal to c is one that x^(ones*c) makes zero.
func plainWord(x uint64) bool {
	q, bs := x^(ones*'"'), x^(ones*'\\')
	return ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs)&highs == 0
}

// validString returns the index after the string at b[i] (a quote), and
// whether its escapes are valid and it has no control character.
func validString(b []byte, i int) (int, bool) {
	j := i + 1
	for {
		for j+8 <= len(b) && plainWord(binary.LittleEndian.Uint64(b[j:])) {
			j += 8
		}
		if j >= len(b) {
			return 0, false
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\':
			if j+1 >= len(b) {
				return 0, false
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) {
					return 0, false
				}
				for _, h := range b[j+2 : j+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return 0, false
					}
				}
				j += 6
			default:
				return 0, false
			}
		case c < 0x20:
			return 0, false
		default:
			j++
		}
	}
}
