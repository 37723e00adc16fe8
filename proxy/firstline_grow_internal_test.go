package proxy

import (
	"io"
	"strings"
	"testing"
	"time"
)

// openingCreated is a response.created echoing pad bytes of instructions.
func openingCreated(pad int) string {
	return "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"instructions\":\"" + strings.Repeat("x", pad) + "\"}}\n\n"
}

const (
	openingDelta  = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n"
	openingFailed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"server_error\",\"message\":\"CUDA out of memory\"}}}\n\n"
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
	created, delta, failed := openingCreated, openingDelta, openingFailed
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

// smallReads reads at most n bytes at a time from r, as a backend's
// stream arrives over a slow link.
type smallReads struct {
	r io.Reader
	n int
}

func (s smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), s.n)]) }

// judgeOpening waits for body's opening events as awaitFirstLine does and
// returns the error event that decides it, x.br's size then, and what the
// relay reads from x.br after.
func judgeOpening(tb testing.TB, body io.Reader) (ev *streamErrorEvent, size int, rest string) {
	tb.Helper()
	x := &exchange{}
	x.f.stream, x.f.responses = true, true
	x.br = newStreamReader()
	x.br.Reset(body)
	defer x.releaseReader()
	if err := firstLine(x.br); err != nil {
		tb.Fatal(err)
	}
	// Comments held for the test's life (maxCommentHold: the attempt out
	// that long passes them).
	ev, err := firstEventError(x, &opening{body: body, now: time.Now, holdUntil: time.Now().Add(time.Hour)})
	if err != nil {
		tb.Fatal(err)
	}
	size = x.br.Size()
	b, err := io.ReadAll(x.br)
	if err != nil {
		tb.Fatal(err)
	}
	return ev, size, string(b)
}

// TestFirstEvents_SmallReads: an opening that arrives in small reads (a
// line's end alone, \r and \n apart, a keep-alive between events) is
// judged as one read whole is: firstEvents scans again only when a line
// has ended since its last scan.
func TestFirstEvents_SmallReads(t *testing.T) {
	crlf := strings.ReplaceAll(openingCreated(10), "\n", "\r\n")
	cr := strings.ReplaceAll(openingCreated(10), "\n", "\r")
	for _, c := range []struct {
		name, body string
		fails      bool
	}{
		{"failed", openingCreated(100) + openingFailed, true},
		{"delta", openingCreated(100) + openingDelta, false},
		{"crlf-failed", crlf + strings.ReplaceAll(openingFailed, "\n", "\r\n"), true},
		{"cr-failed", cr + strings.ReplaceAll(openingFailed, "\n", "\r"), true},
		{"cr-delta", cr + strings.ReplaceAll(openingDelta, "\n", "\r"), false},
		{"keepalive-failed", openingCreated(100) + ": keep-alive\n\n" + openingFailed, true},
		{"huge-failed", openingCreated(300<<10) + openingFailed, true},
		{"huge-delta", openingCreated(300<<10) + openingDelta, false},
	} {
		whole, wholeSize, _ := judgeOpening(t, strings.NewReader(c.body))
		if (whole != nil) != c.fails {
			t.Fatalf("%s read whole: error event %v, want one %v", c.name, whole, c.fails)
		}
		for _, n := range []int{1, 2, 3, 7, 1 << 10} {
			if n < 7 && len(c.body) > 64<<10 {
				continue // 300 KiB a byte at a time is slow under -race, not different
			}
			ev, size, rest := judgeOpening(t, smallReads{strings.NewReader(c.body), n})
			if (ev != nil) != c.fails || size != wholeSize || rest != c.body {
				t.Errorf("%s in reads of %d bytes: error event %v, reader %d, %d bytes after; want as read whole: one %v, %d, the backend's %d",
					c.name, n, ev, size, len(rest), c.fails, wholeSize, len(c.body))
			}
		}
	}
}

// BenchmarkFirstEvents_HugeOpeningSmallReads: a 900 KiB opening (a long
// system prompt echoed in response.created) arriving 1 KiB at a time, as
// over a slow link. Each read's bytes are searched for a line's end once;
// scanning the whole opening after every read cost 737 ms per stream.
func BenchmarkFirstEvents_HugeOpeningSmallReads(b *testing.B) {
	body := openingCreated(900<<10) + openingFailed
	for b.Loop() {
		if ev, _, _ := judgeOpening(b, smallReads{strings.NewReader(body), 1 << 10}); ev == nil {
			b.Fatal("not judged")
		}
	}
}
