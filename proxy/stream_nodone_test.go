package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/proxy"
)

// What the user does: puts the gateway in front of a model server that ends
// a stream without "data: [DONE]" (llama.cpp's server before it added the
// event, ik_llama.cpp without --send-done): its last chunk has the finish
// reason (and, when asked for, the usage chunk follows), and it then ends
// its body properly. The client streams with the OpenAI SDK.
// What happened: the gateway appended its error event ("the backend for
// chat:v1 broke off the stream; retry the request") to the whole answer, so
// the SDK raised an error after every token had arrived, and the request
// counted as stream_broken: a failure, so five such answers in a row ejected
// the version and a canary of it was rolled back on its error rate.
// What should happen: a stream read to its end, with no read error, after a
// finish reason is a whole answer; a stream that ends before any finish
// reason is still broken off.
func TestStream_NoDoneAfterFinishIsWhole(t *testing.T) {
	cases := []struct {
		name   string
		events []string
		broken bool
	}{
		{"finish then end", []string{chunk("a"), chunk("b"), finalChunk}, false},
		{"finish, usage, then end", []string{chunk("a"), chunk("b"), finalChunk, usageChunk}, false},
		{"end before a finish", []string{chunk("a"), chunk("b")}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				for _, e := range c.events {
					io.WriteString(w, e)
					w.(http.Flusher).Flush()
				}
				// The handler returns: the chunked body ends properly.
			}))
			t.Cleanup(be.Close)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Recorder: rec})
			text, err := reviewStream(t, url)
			o := reviewObs(t, rec)
			if c.broken {
				if err == nil || !strings.Contains(err.Error(), "broke off the stream") {
					t.Errorf("SDK stream ended with text %q and error %v; want the gateway's error event", text, err)
				}
				if o.ErrorClass != "stream_broken" {
					t.Errorf("observation error class %q, want stream_broken", o.ErrorClass)
				}
				return
			}
			if err != nil || text != "ab" {
				t.Errorf("SDK stream gave text %q and error %v; want \"ab\" and no error", text, err)
			}
			if o.ErrorClass != "" || o.FinishReason != "stop" {
				t.Errorf("observation error class %q, finish reason %q; want none and stop", o.ErrorClass, o.FinishReason)
			}
		})
	}
}
