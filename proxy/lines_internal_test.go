package proxy

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
)

// reads is a body whose reads return its parts one by one, as a backend's
// writes arrive.
type reads struct{ parts []string }

func (r *reads) Read(p []byte) (int, error) {
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	if r.parts[0] = r.parts[0][n:]; r.parts[0] == "" {
		r.parts = r.parts[1:]
	}
	return n, nil
}

// splitAll reads every line of the parts through sseLines; a line that
// completes the one before (cont) is marked "+".
func splitAll(t *testing.T, size int, parts ...string) []string {
	t.Helper()
	s := sseLines{br: bufio.NewReaderSize(&reads{parts: parts}, size)}
	var got []string
	for {
		line, cont, err := s.next()
		switch {
		case cont:
			got = append(got, "+"+string(line))
		case len(line) > 0 && err == bufio.ErrBufferFull:
			got = append(got, string(line)+"…")
		case len(line) > 0:
			got = append(got, string(line))
		}
		if err == io.EOF {
			return got
		}
		if err != nil && err != bufio.ErrBufferFull {
			t.Fatal(err)
		}
	}
}

func TestSSELines_Next(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		want  []string
	}{
		{"LF", []string{"a\n\nb\n"}, []string{"a\n", "\n", "b\n"}},
		{"CRLF", []string{"a\r\n\r\nb\r\n"}, []string{"a\r\n", "\r\n", "b\r\n"}},
		{"CR", []string{"a\r\rb\r"}, []string{"a\r", "\r", "b\r"}},
		{"LFThenCR", []string{"a\n\nb\r\rc\r"}, []string{"a\n", "\n", "b\r", "\r", "c\r"}},
		{"CRThenLFInOneRead", []string{"a\r\rb\n\n"}, []string{"a\r", "\r", "b\n", "\n"}},
		{"EachLineItsOwn", []string{"a\nb\rc\r\nd\n\r\r\n"}, []string{"a\n", "b\r", "c\r\n", "d\n", "\r", "\r\n"}},
		{"LFThenCRInLaterReads", []string{"a\n\n", "b\r", "\r", "c\r\r"}, []string{"a\n", "\n", "b\r", "\r", "c\r", "\r"}},
		// A \r\n cut by the reads: one line end, the \n marked as the
		// rest of the line before it, not an empty line.
		{"CRLFCut", []string{"a\r", "\nb\r\n"}, []string{"a\r", "+\n", "b\r\n"}},
		{"EmptyLineCRLFCut", []string{"a\r\n\r", "\nb\n"}, []string{"a\r\n", "\r", "+\n", "b\n"}},
		{"CRAtReadEndThenOther", []string{"a\r", "b\r"}, []string{"a\r", "b\r"}},
		{"CRAtReadEndThenCR", []string{"a\r", "\r"}, []string{"a\r", "\r"}},
		{"LineInManyReads", []string{"da", "ta: x", "\r", "\n"}, []string{"data: x\r", "+\n"}},
		{"NoEndAtEOF", []string{"a\nb"}, []string{"a\n", "b"}},
		{"LongLine", []string{strings.Repeat("x", 20) + "\ry\n"}, []string{strings.Repeat("x", 16) + "…", "xxxx\r", "y\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := splitAll(t, 16, tc.parts...)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
				t.Fatalf("lines %q, want %q", got, tc.want)
			}
		})
	}
}

// ready says whether next would return a line without reading.
func TestSSELines_Ready(t *testing.T) {
	for _, tc := range []struct {
		name     string
		buffered string
		afterCR  bool
		want     bool
	}{
		{"Nothing", "", false, false},
		{"PartOfALine", "data: x", false, false},
		{"LF", "data: x\n", false, true},
		{"CR", "data: x\r", false, true},
		{"CRLast", "\r", false, true},
		{"RestOfCRLFOnly", "\n", true, false},
		{"RestOfCRLFThenPart", "\ndata", true, false},
		{"RestOfCRLFThenLine", "\ndata\r", true, true},
		{"LFAfterCRIsALineWhenNotTheRest", "\n", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tc.buffered), 64)
			br.Peek(len(tc.buffered))
			s := sseLines{br: br, afterCR: tc.afterCR}
			if got := s.ready(); got != tc.want {
				t.Fatalf("ready = %v, want %v", got, tc.want)
			}
		})
	}
}

// However the reads cut a stream, sseLines finds the lines the SSE spec
// finds in the whole of it (a cut \r\n's \n marked as the rest of its
// line, a long line in parts).
func FuzzSSELines(f *testing.F) {
	f.Add("a\n\nb\r\rc\r\n\r\n", uint8(3))
	f.Add("data: x\r\ndata: y\n\r\r\n\n", uint8(7))
	f.Add("\r\n\r\r\n\n\r", uint8(1))
	f.Add(strings.Repeat("x", 40)+"\r\n", uint8(16))
	f.Fuzz(func(t *testing.T, stream string, cut uint8) {
		// Reads of cut bytes (1 to 32) each.
		n := int(cut%32) + 1
		var parts []string
		for s := stream; s != ""; {
			k := min(n, len(s))
			parts = append(parts, s[:k])
			s = s[k:]
		}
		br := bufio.NewReaderSize(&reads{parts: parts}, 16)
		s := sseLines{br: br}
		var got []string
		partial := false // the last line is a long line's part
		for {
			line, cont, err := s.next()
			if len(line) > 0 {
				if (cont || partial) && len(got) > 0 {
					got[len(got)-1] += string(line)
				} else {
					got = append(got, string(line))
				}
			}
			partial = err == bufio.ErrBufferFull
			if err == io.EOF {
				break
			}
			if err != nil && !partial {
				t.Fatal(err)
			}
		}
		if want := specLines(stream); fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
			t.Fatalf("reads of %d: lines %q, want %q", n, got, want)
		}
	})
}

// specLines splits s as the SSE spec does, each line with its ending.
func specLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case '\n':
		default:
			continue
		}
		out = append(out, s[start:i+1])
		start = i + 1
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
