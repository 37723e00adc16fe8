package proxy_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/proxy"
)

// sseBackend serves the events given, each written and flushed on its own
// after the pause before it; a pause of -1 ends the answer abruptly (the
// connection is cut mid-stream).
func sseBackend(t *testing.T, steps ...any) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		fl := w.(http.Flusher)
		fl.Flush()
		for _, s := range steps {
			switch v := s.(type) {
			case time.Duration:
				if v < 0 {
					panic(http.ErrAbortHandler)
				}
				time.Sleep(v)
			case string:
				io.WriteString(w, v)
				fl.Flush()
			case chan struct{}: // wait until the test closes it
				select {
				case <-v:
				case <-r.Context().Done():
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func chunk(text string) string {
	return `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + text + `"},"finish_reason":null}]}` + "\n\n"
}

const (
	finalChunk = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	usageChunk = `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}` + "\n\n"
	doneEvent  = "data: [DONE]\n\n"
)

// readEvents reads the server-sent events of resp, sending each with its
// arrival time.
func readEvents(resp *http.Response) <-chan string {
	out := make(chan string, 64)
	go func() {
		defer close(out)
		br := bufio.NewReader(resp.Body)
		var ev strings.Builder
		for {
			line, err := br.ReadString('\n')
			ev.WriteString(line)
			if line == "\n" {
				out <- ev.String()
				ev.Reset()
			}
			if err != nil {
				if ev.Len() > 0 {
					out <- ev.String()
				}
				return
			}
		}
	}()
	return out
}

func streamThrough(t *testing.T, backend string, body string) (*http.Response, <-chan string) {
	t.Helper()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend, backend)})
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, readEvents(resp)
}

const streamBody = `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`

// Each event reaches the client as soon as the backend sent it, not with
// the next one: the backend sends the next only after the client has the
// previous, so an event held back never arrives (no timing to go wrong on
// a busy machine).
func TestProxy_StreamFlushesEachEvent(t *testing.T) {
	gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
	be := sseBackend(t, chunk("one"), gates[0], chunk("two"), gates[1], finalChunk, usageChunk, doneEvent)
	_, events := streamThrough(t, be.URL, streamBody)
	for i, want := range []string{"one", "two"} {
		select {
		case ev := <-events:
			if !strings.Contains(ev, `"content":"`+want+`"`) {
				t.Fatalf("event %d = %q, want the chunk %q", i, ev, want)
			}
			close(gates[i])
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d never arrived: it was held back until the backend's next one", i)
		}
	}
}

// Events that arrive together are all passed on, in order, and the usage
// chunk the proxy asked for is stripped when the client did not ask.
func TestProxy_StreamBurst(t *testing.T) {
	var burst strings.Builder
	for _, w := range []string{"a", "b", "c", "d", "e"} {
		burst.WriteString(chunk(w))
	}
	be := sseBackend(t, burst.String(), finalChunk+usageChunk+doneEvent)
	_, events := streamThrough(t, be.URL, streamBody)
	var got []string
	for ev := range events {
		got = append(got, ev)
	}
	if len(got) != 7 {
		t.Fatalf("%d events, want 5 chunks, the final chunk and [DONE]: %q", len(got), got)
	}
	for i, w := range []string{"a", "b", "c", "d", "e"} {
		if !strings.Contains(got[i], `"content":"`+w+`"`) {
			t.Errorf("event %d = %q, want chunk %q", i, got[i], w)
		}
	}
	for _, ev := range got {
		if strings.Contains(ev, `"usage"`) {
			t.Errorf("the usage chunk reached a client that did not ask for it: %q", ev)
		}
	}
	if got[6] != doneEvent {
		t.Errorf("last event %q, want [DONE]", got[6])
	}
}

// A client that asked for usage gets the usage chunk.
func TestProxy_StreamUsageAsked(t *testing.T) {
	be := sseBackend(t, chunk("a"), finalChunk, usageChunk, doneEvent)
	_, events := streamThrough(t, be.URL, `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	usage := false
	for ev := range events {
		usage = usage || strings.Contains(ev, `"usage"`)
	}
	if !usage {
		t.Error("the client asked for usage and did not get it")
	}
}

// A stream the backend breaks off ends with an error event.
func TestProxy_StreamBroken(t *testing.T) {
	be := sseBackend(t, chunk("a"), 50*time.Millisecond, time.Duration(-1))
	_, events := streamThrough(t, be.URL, streamBody)
	var last string
	n := 0
	for ev := range events {
		last = ev
		n++
	}
	if n != 2 || !strings.HasPrefix(last, `data: {"error"`) || !strings.Contains(last, "broke off the stream") {
		t.Errorf("%d events, last %q: want the chunk, then an error event", n, last)
	}
}
