package proxy

import (
	"bufio"
	"bytes"
)

// sseLines splits a server-sent event stream into lines as the SSE spec
// does: a line ends at \r\n, \n or \r, and a stream may mix them, from one
// line to the next. Each line comes with its ending, as a slice of br's
// buffer (valid until the next call), so that the relay passes it on as it
// came and allocates nothing.
//
// Each buffered byte is searched once for \n and once for \r
// (bytes.IndexByte), however many lines and ready checks there are: lf and
// cr record how far the buffered bytes are known to hold no \n and no \r,
// so a search starts where the last one stopped. A stream of \n lines is
// searched for \r once per read from the backend, over what it brought,
// and ready's search before a line is the one next then uses. (The relay
// used to take one ending for the whole stream from its first line, and a
// stream that changed to \r midway was read as one long line.)
type sseLines struct {
	br *bufio.Reader
	// lf and cr are how many bytes from br's position are known to hold
	// no \n (no \r); the byte right after them, when buffered, is the \n
	// (\r) found last.
	lf, cr int
	// afterCR: the last line ended with a \r that was the last byte
	// buffered; a \n read next is the rest of that line's ending, not an
	// empty line (which would end an event).
	afterCR bool
}

// next returns the next line with its ending. cont reports that line is
// the \n of a \r\n whose \r, the last byte of an earlier read, ended the
// line before: it is no line of its own. At the end of the body, next
// returns what is left (a line without its ending, or nothing) and the
// body's error; for a line longer than the buffer, the buffer's worth of
// it and bufio.ErrBufferFull.
func (s *sseLines) next() (line []byte, cont bool, err error) {
	for {
		n := s.br.Buffered()
		b, _ := s.br.Peek(n)
		if s.afterCR && n > 0 {
			s.afterCR = false
			if b[0] == '\n' {
				return s.take(b, 1), true, nil
			}
		}
		if end, crLast := s.lineEnd(b); end > 0 {
			s.afterCR = crLast
			return s.take(b, end), false, nil
		}
		if n == s.br.Size() {
			return s.take(b, n), false, bufio.ErrBufferFull
		}
		if _, err := s.br.Peek(n + 1); err != nil && s.br.Buffered() == n {
			// (Peeked again: the read may have moved the bytes.)
			b, _ = s.br.Peek(n)
			s.afterCR = false
			return s.take(b, n), false, err
		}
	}
}

// ready reports whether a whole line is buffered, so that next will not
// wait for the backend.
func (s *sseLines) ready() bool {
	n := s.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := s.br.Peek(n)
	if s.afterCR && b[0] == '\n' {
		// The rest of the last line's ending: a line must follow it
		// (rare: a \r\n cut by a read; not worth keeping the searches).
		return bytes.IndexByte(b[1:], '\n') >= 0 || bytes.IndexByte(b[1:], '\r') >= 0
	}
	end, _ := s.lineEnd(b)
	return end > 0
}

// lineEnd returns the length of b's first line, its ending included, or 0
// when b holds no whole line; crLast reports that the line ends with a \r
// that is b's last byte, whose \n may be still to come.
func (s *sseLines) lineEnd(b []byte) (end int, crLast bool) {
	i := find(b, '\n', &s.lf)
	j := find(b, '\r', &s.cr)
	switch {
	case j >= 0 && (i < 0 || j < i):
		switch {
		case j+1 == len(b):
			return j + 1, true
		case b[j+1] == '\n': // i == j+1
			return j + 2, false
		}
		return j + 1, false
	case i >= 0:
		return i + 1, false
	}
	return 0, false
}

// take consumes b's first k bytes and returns them.
func (s *sseLines) take(b []byte, k int) []byte {
	s.br.Discard(k)
	s.lf, s.cr = max(s.lf-k, 0), max(s.cr-k, 0)
	return b[:k]
}

// find returns the index of the first c in b, or -1, given that b[:*free]
// holds none; it sets *free to how far b is now known to hold none (the
// index of the c found, or len(b)).
func find(b []byte, c byte, free *int) int {
	f := *free
	switch {
	case f >= len(b):
		return -1
	case b[f] == c: // found by the last search
		return f
	}
	if k := bytes.IndexByte(b[f:], c); k >= 0 {
		*free = f + k
		return f + k
	}
	*free = len(b)
	return -1
}
