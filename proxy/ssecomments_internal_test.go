package proxy

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestCommentBlocks_Filter: the blank lines that end blocks of comments
// alone (and stray ones outside an event) are dropped, with \n, \r\n and
// \r line ends; comments and every event pass byte for byte; and the
// stream read in two parts, split at every byte, reads as when whole.
func TestCommentBlocks_Filter(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"keep-alive", ": keep-alive\n\n", ": keep-alive\n"},
		{"crlf", ": ping - 2026\r\n\r\n", ": ping - 2026\r\n"},
		{"cr", ": ping\r\r", ": ping\r"},
		{"empty-comment", ":\n\n", ":\n"},
		{"stray-blank", "\n\r\n\r", ""},
		{"comments-block", ": a\n: b\n\n", ": a\n: b\n"},
		{"event", "event: x\ndata: {\"a\":1}\n\n", "event: x\ndata: {\"a\":1}\n\n"},
		{"event-crlf", "data: 1\r\n\r\n", "data: 1\r\n\r\n"},
		{"comment-in-event", "event: x\n: note\ndata: 2\n\n", "event: x\n: note\ndata: 2\n\n"},
		{"comment-then-event", ": ka\ndata: 3\n\n", ": ka\ndata: 3\n\n"},
		{"between-events", "data: 1\n\n: ka\n\n\ndata: 2\r\n\r\n: ka\r\n\r\n", "data: 1\n\n: ka\ndata: 2\r\n\r\n: ka\r\n"},
		{"colon-in-data", "data: {\"t\":\"a: b\"}\n\n", "data: {\"t\":\"a: b\"}\n\n"},
		{"unended", "data: 1\n\n: ka", "data: 1\n\n: ka"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var whole commentBlocks
			if got := string(whole.filter([]byte(c.in))); got != c.want {
				t.Fatalf("whole: %q, want %q", got, c.want)
			}
			for i := range len(c.in) + 1 {
				var cb commentBlocks
				got := string(cb.filter([]byte(c.in[:i]))) + string(cb.filter([]byte(c.in[i:])))
				if got != c.want {
					t.Fatalf("split at %d: %q, want %q", i, got, c.want)
				}
			}
			var bytewise commentBlocks
			var got string
			for i := range len(c.in) {
				got += string(bytewise.filter([]byte{c.in[i]}))
			}
			if got != c.want {
				t.Fatalf("byte by byte: %q, want %q", got, c.want)
			}
		})
	}
}

// TestCommentBlocks_AppendEnd: what ends a stream cut off so that an event
// written next stands alone: nothing after a keep-alive (whose blank line
// was dropped) or an ended event, and the line's and the event's ends
// otherwise, with \r after a line ended by \r.
func TestCommentBlocks_AppendEnd(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{": keep-alive\n\n", ""},
		{": keep-alive\r\n\r\n", ""},
		{"data: 1\n\n", ""},
		{"data: 1\n\n: ka\n\n", ""},
		{": ka", "\n"},
		{"data: 1\n", "\n"},
		{"data: 1\r\n", "\n"},
		{"data: 1\r", "\r"},
		{"data: {\"a\"", "\n\n"},
		{"event: x\n: note\n", "\n"},
	} {
		var cb commentBlocks
		cb.filter([]byte(c.in))
		if got := string(cb.appendEnd(nil)); got != c.want {
			t.Errorf("after %q: %q, want %q", c.in, got, c.want)
		}
	}
}

// TestByIDSeq: the gateway's event ending a stream by id takes the first
// event's sequence_number plus the events passed; starting_after+1 (or 0)
// before any; none when the first event was too large to hold.
func TestByIDSeq(t *testing.T) {
	ev := func(n int) string {
		return "event: e\ndata: {\"type\":\"e\",\"sequence_number\":" + strconv.Itoa(n) + "}\n\n"
	}
	for _, c := range []struct {
		name, query string
		parts       []string
		want        int64
	}{
		{"none", "", nil, 0},
		{"none-resumed", "starting_after=4", []string{": keep-alive\n\n"}, 5},
		{"two", "starting_after=6", []string{": ka\n\n", ev(7), ": ka\n\n", ev(8), ": ka\n\n"}, 9},
		{"split", "", []string{ev(3)[:20], ev(3)[20:] + ev(4)[:9]}, 5},
		{"open", "", []string{ev(3), "event: e\ndata: {\"type\":\"e\",\"sequence"}, 5},
		{"first-open", "", []string{"event: e\ndata: {\"type\":\"e\",\"sequence_number\":2}\n"}, 3},
		{"huge-first", "", []string{"data: {\"pad\":\"" + strings.Repeat("x", maxByIDOpening) + "\",\"sequence_number\":1}\n\n", ev(2)}, -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cb commentBlocks
			var s byIDSeq
			for _, p := range c.parts {
				out := cb.filter([]byte(p))
				s.read(out, cb.events)
			}
			passed := cb.events
			if cb.inEvent {
				passed++
			}
			r := httptest.NewRequest("GET", "/v1/responses/r?stream=true&"+c.query, nil)
			if got := s.next(r, passed); got != c.want {
				t.Errorf("next %d, want %d", got, c.want)
			}
		})
	}
}
