package proxy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// firstEventObs returns the observations of version v2 (the failing one)
// and v1 (stable) once both sides have one, or fails the test.
func firstEventObs(t *testing.T, rec *spyRecorder, wantStable bool) (failed, stable sluice.Observation) {
	t.Helper()
	waitFor(t, "the observations", func() bool {
		var f, s bool
		for _, o := range rec.all() {
			f = f || o.Version == "v2"
			s = s || o.Version == "v1"
		}
		return f && (s || !wantStable)
	})
	for _, o := range rec.all() {
		switch o.Version {
		case "v2":
			failed = o
		case "v1":
			stable = o
		}
	}
	return failed, stable
}

// What the user does: streams a completion that the split sends to a
// version whose backend answers 200 with its stream's headers and then
// dies (connection reset, or closed) before its first event.
// What must happen: nothing has reached the client yet, so the gateway
// retries on stable as for a connection failure: the client gets stable's
// stream (200, X-Model-Version chat:v1, no error event) and the failed
// attempt counts against the version that failed (stream_broken, 502,
// retried). A request that pinned the broken version gets a plain 502
// naming it, not a 200 stream ending in an error event.
func TestStreamBrokenBeforeFirstEventIsRetriedOnStable(t *testing.T) {
	for name, parts := range map[string][]any{"reset": {reviewCut}, "closed": nil} {
		t.Run(name, func(t *testing.T) {
			bad := reviewSSE(t, parts...)
			good := sseBackend(t, chunk("hello"), finalChunk, usageChunk, doneEvent)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL, bad, 0), Recorder: rec})

			resp, body := post(t, url, "/v1/chat/completions", streamBody)
			if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1" || !strings.Contains(body, `"content":"hello"`) || strings.Contains(body, `"error"`) {
				t.Fatalf("status %d from %q, body %q: want stable's stream (chat:v1) without an error", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
			}
			failed, stable := firstEventObs(t, rec, true)
			if failed.ErrorClass != "stream_broken" || failed.Status != 502 || !failed.Retried {
				t.Errorf("failed attempt: class %q status %d retried %v, want stream_broken 502 retried", failed.ErrorClass, failed.Status, failed.Retried)
			}
			if stable.Route != "retry" || stable.ErrorClass != "" {
				t.Errorf("stable's attempt: route %q class %q, want a successful retry", stable.Route, stable.ErrorClass)
			}

			resp, body = post(t, url, "/v1/chat/completions", strings.Replace(streamBody, `"chat"`, `"chat:v2"`, 1))
			if resp.StatusCode != 502 || resp.Header.Get("X-Model-Version") != "chat:v2" || !strings.Contains(body, `"code":"upstream_error"`) || !strings.Contains(body, "before its first event") {
				t.Errorf("pinned: status %d from %q, body %q: want a 502 upstream_error naming chat:v2", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
			}
		})
	}
}

// What the user does: sets timeouts.first_byte (Options.FirstByteTimeout)
// and streams from a backend that sends its headers at once (as vLLM does,
// before prefill) and then nothing.
// What must happen: the first-byte timeout bounds the first event too, not
// only the headers: within it the split request is retried on stable (the
// failed attempt a "timeout", 504), and a pinned one gets a 504
// upstream_timeout naming the version, long before the request timeout.
// Both the gateway's own client and an http.Transport.
func TestStreamFirstByteTimeoutBoundsFirstEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   http.RoundTripper
	}{
		{"OwnClient", nil},
		{"Transport", proxy.NewTransport(5*time.Second, 300*time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stall := make(chan struct{})
			defer close(stall)
			bad := reviewSSE(t, stall)
			good := sseBackend(t, chunk("hello"), finalChunk, usageChunk, doneEvent)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{
				Routes: splitRoutes(t, good.URL, bad, 0), Recorder: rec, Transport: tc.tr,
				FirstByteTimeout: 300 * time.Millisecond, RequestTimeout: 20 * time.Second,
			})

			start := time.Now()
			resp, body := post(t, url, "/v1/chat/completions", streamBody)
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("the stream took %s with a 300 ms first-byte timeout", d)
			}
			if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1" || !strings.Contains(body, `"content":"hello"`) {
				t.Fatalf("status %d from %q, body %q: want stable's stream (chat:v1)", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
			}
			failed, _ := firstEventObs(t, rec, true)
			if failed.ErrorClass != "timeout" || failed.Status != 504 || !failed.Retried {
				t.Errorf("failed attempt: class %q status %d retried %v, want timeout 504 retried", failed.ErrorClass, failed.Status, failed.Retried)
			}

			start = time.Now()
			resp, body = post(t, url, "/v1/chat/completions", strings.Replace(streamBody, `"chat"`, `"chat:v2"`, 1))
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("the pinned stream took %s with a 300 ms first-byte timeout", d)
			}
			if resp.StatusCode != 504 || resp.Header.Get("X-Model-Version") != "chat:v2" || !strings.Contains(body, `"code":"upstream_timeout"`) {
				t.Errorf("pinned: status %d from %q, body %q: want a 504 upstream_timeout naming chat:v2", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
			}
		})
	}
}
