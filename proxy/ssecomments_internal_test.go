package proxy

import "testing"

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
