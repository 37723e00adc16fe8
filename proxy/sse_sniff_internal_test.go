package proxy

import (
	"bufio"
	"strings"
	"testing"
	"testing/iotest"
)

// What the user does: streams from a backend that sends its events
// without a text/event-stream content type (FastAPI without media_type),
// and whose first line is blank.
// What must happen: the answer is relayed as a stream, event by event.
// Before, a blank first line (all the gateway had buffered) did not look
// like SSE, so the whole stream was held until it ended.
func TestLooksLikeSSE(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{"data: {\"x\":1}\n\n", true},
		{": keep-alive\n\n", true},
		{"event: delta\ndata: {}\n\n", true},
		{"\n\ndata: {}\n\n", true},
		{"\r\n", true},
		{"{\"id\":\"chatcmpl-1\"}", false},
		{"[1,2]\n", false},
	} {
		// One byte at a time, as a backend's first line may arrive alone.
		br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(tc.body)), 64)
		if err := firstLine(br); err != nil {
			t.Fatalf("%q: firstLine: %v", tc.body, err)
		}
		if got := looksLikeSSE(br); got != tc.want {
			t.Errorf("looksLikeSSE after the first line of %q = %v, want %v", tc.body, got, tc.want)
		}
	}
}
