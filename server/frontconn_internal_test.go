package server

import "testing"

// bareLFHead decides, for the bytes fasthttp holds while it waits for
// more, whether they are a request head that net/http reads and fasthttp
// never will: only those are handed over.
func TestBareLFHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    string
		want bool
	}{
		{"LF", "GET /healthz HTTP/1.1\nHost: x\n\n", true},
		{"LFWithBody", "POST /v1/chat/completions HTTP/1.1\nHost: x\nContent-Length: 2\n\n{}", true},
		{"LFBodyToCome", "POST /v1/chat/completions HTTP/1.1\nHost: x\nContent-Length: 2\n\n", true},
		{"CRLFEmptyLineAfterLF", "GET / HTTP/1.1\r\nHost: x\n\r\n", true},
		{"LFEmptyLineAfterCRLF", "GET / HTTP/1.1\r\nHost: x\r\n\n", true},
		{"NoHeaders", "GET / HTTP/1.0\n\n", true},
		// Empty lines before the request line (RFC 9112 section 2.2):
		// fasthttp skips them, then waits for a CRLF CRLF after them.
		{"CRLFBefore", "\r\nGET / HTTP/1.1\nHost: x\n\n", true},
		{"LFsBefore", "\n\nGET / HTTP/1.1\nHost: x\n\n", true},
		{"CRLFCRLFBefore", "\r\n\r\nGET / HTTP/1.1\nHost: x\n\n", true},
		{"OnlyEmptyLines", "\r\n\n\r\n", false},
		{"CRLFBeforeCRLFHead", "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"EmptyLineThenTrailer", "\nX-Trailer: a\n\n", false},
		{"HeadNotWhole", "GET / HTTP/1.1\nHost: x\n", false},
		{"RequestLineNotWhole", "GET / HTTP/1.1", false},
		// fasthttp reads these itself: a CRLF CRLF is there.
		{"CRLF", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"LFHeadCRLFCRLFInBody", "POST / HTTP/1.1\nContent-Length: 4\n\n\r\n\r\n", false},
		// Not a request's start: a chunked body's trailer, or body bytes.
		{"Trailer", "X-Trailer: a\n\n", false},
		{"TrailerWithSpace", "X-Trailer: GET / HTTP/1.1\n\n", false},
		{"NotHTTP", "hello there\n\n", false},
		{"HTTP2", "PRI * HTTP/2.0\n\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bareLFHead([]byte(tc.b)); got != tc.want {
				t.Fatalf("bareLFHead(%q) = %v, want %v", tc.b, got, tc.want)
			}
		})
	}
}
