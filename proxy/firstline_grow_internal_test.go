package proxy

import (
	"io"
	"strings"
	"testing"
	"time"
)

// TestFirstEvents_ResponsesReaderGrowsOnlyWhenNeeded: a Responses stream's
// first events are held in its reader until the event that decides
// whether it failed before its answer (firstEvents). Every Responses
// stream held a 64 KiB reader for its whole life, for the few whose
// response.created (which echoes the request's instructions and tools)
// does not fit in a chat stream's 8 KiB: 64 MB at a thousand streams in
// flight. A stream whose opening events fit keeps the 8 KiB reader; one
// whose events fill it moves to a 64 KiB one, which still decides (here
// a response.failed after a 20 KiB response.created), and the stream's
// bytes read from the reader afterwards are the backend's, whole and in
// order.
func TestFirstEvents_ResponsesReaderGrowsOnlyWhenNeeded(t *testing.T) {
	created := func(pad int) string {
		return "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"instructions\":\"" + strings.Repeat("x", pad) + "\"}}\n\n"
	}
	const delta = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n"
	const failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\",\"message\":\"CUDA out of memory\"}}}\n\n"
	for _, c := range []struct {
		name, body string
		size       int
		fails      bool
	}{
		{"small", created(100) + delta, 8 << 10, false},
		{"small-failed", created(100) + failed, 8 << 10, true},
		{"large", created(20<<10) + delta, respReaderSize, false},
		{"large-failed", created(20<<10) + failed, respReaderSize, true},
		// Past 64 KiB: a reader four times as large, for this stream.
		{"huge", created(200<<10) + delta, 4 * respReaderSize, false},
		{"huge-failed", created(200<<10) + failed, 4 * respReaderSize, true},
		{"huger-failed", created(300<<10) + failed, maxOpeningSize, true},
		// Past the bound: it passes as it comes, unjudged.
		{"past-the-bound", created(maxOpeningSize) + failed, maxOpeningSize, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := &exchange{}
			x.f.stream, x.f.responses = true, true
			body := strings.NewReader(c.body)
			x.br = newStreamReader()
			x.br.Reset(body)
			if err := firstLine(x.br); err != nil {
				t.Fatal(err)
			}
			ev, err := firstEventError(x, &opening{body: body, now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			if (ev != nil) != c.fails || c.fails && !strings.Contains(ev.Error(), "CUDA out of memory") {
				t.Errorf("error event %v, want one %v", ev, c.fails)
			}
			if got := x.br.Size(); got != c.size {
				t.Errorf("the stream's reader holds %d bytes, want %d", got, c.size)
			}
			rest, err := io.ReadAll(x.br)
			if err != nil || string(rest) != c.body {
				t.Errorf("read after the wait: %d bytes (%v), want the backend's %d whole", len(rest), err, len(c.body))
			}
			x.releaseReader()
		})
	}
}
