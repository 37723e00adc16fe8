package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// cancelAtEnd is a ResponseWriter that ends the request's context as the
// last byte of an answer of size bytes is written to it: a client that
// hangs up just as its answer is complete.
type cancelAtEnd struct {
	h       http.Header
	code    int
	written int
	size    int
	cancel  context.CancelFunc
}

func (c *cancelAtEnd) Header() http.Header  { return c.h }
func (c *cancelAtEnd) WriteHeader(code int) { c.code = code }
func (c *cancelAtEnd) Flush()               {}
func (c *cancelAtEnd) Write(b []byte) (int, error) {
	c.written += len(b)
	if c.written >= c.size {
		c.cancel()
	}
	return len(b), nil
}

// TestProxy_RawAnswerReadToEndCompletes: a speech answer read from the
// backend to its end and written whole counts as completed, even when the
// client's context has ended by the time the relay looks (the client hung
// up as its last byte went out). Before, it counted as canceled, which
// drops it from the version's errors and latency as a request no one
// waited for, though the whole answer had been served.
func TestProxy_RawAnswerReadToEndCompletes(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", strconv.Itoa(len(speechBytes)))
		w.Write(speechBytes)
	}))
	t.Cleanup(be.Close)
	rec := observe.New(observe.Options{})
	log := &spyLog{}
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec, Log: log, NoRetry: true})
	t.Cleanup(p.Close)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := httptest.NewRequest(http.MethodPost, "/v1/audio/speech", strings.NewReader(`{"model":"chat","input":"hello","voice":"alloy"}`)).WithContext(ctx)
	w := &cancelAtEnd{h: http.Header{}, size: len(speechBytes), cancel: cancel}
	p.ServeHTTP(w, r)
	if w.code != 200 || w.written != len(speechBytes) {
		t.Fatalf("status %d, %d bytes written; want 200 and all %d", w.code, w.written, len(speechBytes))
	}
	rows := log.all()
	if len(rows) != 1 || rows[0].ErrorClass != "" || rows[0].Status != 200 {
		t.Fatalf("request log %+v, want one row, status 200, no error class", rows)
	}
	if s := rec.Window("chat", "v1", "", time.Time{}); s.Requests != 1 || s.Errors != 0 || len(s.ErrorClasses) != 0 {
		t.Errorf("window: %d requests, %d errors, classes %v; want 1 completed request", s.Requests, s.Errors, s.ErrorClasses)
	}
}

// TestProxy_RawAnswerBrokenOff: a speech answer the backend breaks off
// after its first bytes does not reach the client as a complete answer:
// with the backend's Content-Length it has that length, so the client
// sees fewer bytes than announced; without one, its chunked body ends
// without the terminating chunk. Either way the client's HTTP library
// reports an unexpected EOF, and the request log and the version's window
// count stream_broken. Before, the gateway dropped the Content-Length and
// ended the chunked body properly, so the client took 3,000 bytes of
// audio for the whole answer.
func TestProxy_RawAnswerBrokenOff(t *testing.T) {
	const sent, announced = 3000, 10000
	for _, withLength := range []bool{true, false} {
		name := "chunked"
		if withLength {
			name = "content-length"
		}
		t.Run(name, func(t *testing.T) {
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "audio/mpeg")
				if withLength {
					w.Header().Set("Content-Length", strconv.Itoa(announced))
				}
				w.Write(speechBytes[:sent])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // the backend dies mid-answer
			}))
			t.Cleanup(be.Close)
			rec := observe.New(observe.Options{})
			log := &spyLog{}
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec, Log: log, NoRetry: true})

			resp, err := http.Post(url+"/v1/audio/speech", "application/json", strings.NewReader(`{"model":"chat","input":"hello","voice":"alloy"}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(got) != sent {
				t.Errorf("status %d, %d bytes; want 200 and the %d bytes the backend sent", resp.StatusCode, len(got), sent)
			}
			if err == nil {
				t.Errorf("the client read %d bytes and a clean end: a broken-off answer looked complete", len(got))
			}
			if withLength && resp.ContentLength != announced {
				t.Errorf("Content-Length %d, want the backend's %d", resp.ContentLength, announced)
			}
			waitFor(t, "the request log row", func() bool { return len(log.all()) == 1 })
			if o := log.all()[0]; o.ErrorClass != "stream_broken" {
				t.Errorf("request log row: error class %q, want stream_broken", o.ErrorClass)
			}
			if s := rec.Window("chat", "v1", "", time.Time{}); s.Errors != 1 || s.ErrorClasses["stream_broken"] != 1 {
				t.Errorf("window: %d errors, classes %v; want one stream_broken", s.Errors, s.ErrorClasses)
			}
		})
	}
}

// TestProxy_UntypedPassThroughStaysUntyped: an answer passed through as it
// arrives (here a streamed image generation's events, sent without a
// Content-Type) reaches the client without one, as the backend sent it.
// Before, net/http's server sniffed its first bytes and sent "text/plain;
// charset=utf-8", a type and charset the backend never claimed (RFC 9110
// 8.3 leaves an untyped answer's type to its recipient; Traefik dropped
// the same sniffing for the same reason).
func TestProxy_UntypedPassThroughStaysUntyped(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = nil
		io.WriteString(w, "event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"BBBB\"}\n\n")
	}))
	t.Cleanup(be.Close)
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), NoRetry: true})
	resp, body := post(t, url, "/v1/images/generations", `{"model":"chat","prompt":"p","stream":true}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "image_generation.completed") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct, ok := resp.Header["Content-Type"]; ok {
		t.Errorf("Content-Type %q, want none, as the backend sent", ct)
	}
}

// TestProxy_RawAnswerBrokenOffBeforeItsFirstByte: a backend that sends a
// speech answer's headers and then dies before any of its bytes has sent
// the client nothing yet: the client gets a whole 502 saying so, recorded
// as such, not a connection closed with no answer at all (which the
// OpenAI SDKs report as a connection error) or an empty 200.
func TestProxy_RawAnswerBrokenOffBeforeItsFirstByte(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", "10000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the backend dies before the audio
	}))
	t.Cleanup(be.Close)
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Log: log, NoRetry: true})
	resp, err := http.Post(url+"/v1/audio/speech", "application/json", strings.NewReader(`{"model":"chat","input":"hello","voice":"alloy"}`))
	if err != nil {
		t.Fatalf("no answer at all: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(got), "broke off") ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, %s, body %q (read error %v); want a whole 502 in JSON saying the backend broke off", resp.StatusCode, resp.Header.Get("Content-Type"), got, err)
	}
	waitFor(t, "the request log row", func() bool { return len(log.all()) == 1 })
	if o := log.all()[0]; o.ErrorClass != "stream_broken" || o.Status != http.StatusBadGateway {
		t.Errorf("request log row: status %d, class %q; want 502, stream_broken", o.Status, o.ErrorClass)
	}
}
