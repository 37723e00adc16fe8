package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/proxy"
)

// What the user does: streams from a backend whose events end in \r\n, and
// whose writes (or a proxy's, or TCP's) cut an event's last \r\n between
// its \r and its \n; the client reads events as "\r\n\r\n"-terminated
// blocks, or lines ending in \n (the OpenAI Python SDK's SSE decoder waits
// for \r\r, \n\n or \r\n\r\n).
// What must happen: the \n that completes the event reaches the client as
// soon as the gateway reads it, not with the next event, which may be
// seconds away (a tool call, a slow model). Before sseLines, ReadSlice('\n')
// returned the line with its \n and the event was flushed whole.
func TestStream_EventEndCutBetweenCRAndLFIsFlushed(t *testing.T) {
	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	event := crlf(chunk("hello"))
	sawCR, next := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(next) })
	be := sseBackend(t, strings.TrimSuffix(event, "\n"), sawCR, "\n", next, crlf(chunk(" world")+finalChunk+doneEvent))
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, "")})
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 16)
	go func() {
		defer close(got)
		var body []byte
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			body = append(body, buf[:n]...)
			if n > 0 {
				got <- string(body)
			}
			if err != nil {
				return
			}
		}
	}()
	// wait returns once the body so far ends with want, or fails after 5 s.
	last := ""
	wait := func(want string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case b, ok := <-got:
				if !ok {
					t.Fatalf("stream ended at %q, want it to end with %q", last, want)
				}
				if last = b; b == want {
					return
				}
			case <-deadline:
				t.Fatalf("after 5 s the client has %q, want %q (the next event is not sent yet)", last, want)
			}
		}
	}
	wait(strings.TrimSuffix(event, "\n"))
	close(sawCR) // the backend sends the \n
	wait(event)
}
