package proxy_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// parkedRecorder is a spyRecorder whose Record of an answer (not of a
// failed attempt before a retry) waits until the test lets it go: the
// gateway's work after an answer (the request's observation, the log, the
// feedback ring as it was) is parked while the client already has the
// answer, so a race that a fast client wins now and then is won every
// time.
type parkedRecorder struct {
	*spyRecorder
	release chan struct{}
}

func (r *parkedRecorder) Record(o *sluice.Observation) {
	if !o.Retried {
		select {
		case <-r.release:
		case <-time.After(10 * time.Second):
		}
	}
	r.spyRecorder.Record(o)
}

// TestProxy_FeedbackTheInstantTheAnswerEnds: a client that rates an
// answer the instant it has it (a stream read to its [DONE] or its last
// Responses event, not to the body's end; a whole answer's JSON object
// decoded, not read to EOF) gets a 202, not a 404 "unknown request id".
// The answer was put in the feedback ring after the gateway's work after
// the answer, which began only once the client had all of it: the last
// session's review measured 7 to 9 of 2,000 such ratings refused with a
// raw client. Here that work is parked until the rating is answered, so
// each rating would be refused without the answer registered before its
// last byte. A failed attempt retried on stable registers the version
// that answered, not the one tried first.
func TestProxy_FeedbackTheInstantTheAnswerEnds(t *testing.T) {
	// Long answers: a whole one over the net/http server's buffers
	// (4 KiB) is passed to the client before the handler returns.
	long := fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 3000}}
	stable := MustBackend(t, fakellm.Config{Default: long})
	whole := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{IgnoreStreamRate: 1}})
	failing := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1}})

	run := func(t *testing.T, px parkedProxy, path, body string, end func(t *testing.T, resp *http.Response), version string) {
		url := px.url
		for i := range 5 {
			req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", path, resp.StatusCode)
			}
			end(t, resp)
			id := resp.Header.Get("X-Request-Id")
			fb, fbody := post(t, url, "/v1/feedback", `{"request_id":"`+id+`","thumbs":"up"}`)
			px.rec.release <- struct{}{} // the gateway's work after the answer goes on
			resp.Body.Close()
			if fb.StatusCode != 202 {
				t.Fatalf("rating %d, sent the instant the answer ended: %d %s, want 202", i, fb.StatusCode, fbody)
			}
			var got struct{ Version string }
			if err := json.Unmarshal([]byte(fbody), &got); err != nil || got.Version != version {
				t.Fatalf("rating %d landed on %s, want %s (the version that answered)", i, fbody, version)
			}
		}
	}
	// toLine reads the answer's lines until one holding mark, and no further.
	toLine := func(mark string) func(t *testing.T, resp *http.Response) {
		return func(t *testing.T, resp *http.Response) {
			t.Helper()
			br := bufio.NewReader(resp.Body)
			for {
				line, err := br.ReadString('\n')
				if strings.Contains(line, mark) {
					return
				}
				if err != nil {
					t.Fatalf("the answer ended without %q: %v", mark, err)
				}
			}
		}
	}
	// object decodes the answer's JSON object, and reads no further.
	object := func(t *testing.T, resp *http.Response) {
		t.Helper()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v["id"] == nil {
			t.Fatalf("the answer's object: %v %v", v, err)
		}
	}
	const (
		chatBody      = `{"model":"chat","messages":[{"role":"user","content":"write me a story"}]`
		responsesBody = `{"model":"chat","input":"write me a story"`
	)

	one := mustParkedProxy(t, stable.URL(), "")
	t.Run("ChatStream", func(t *testing.T) {
		run(t, one, "/v1/chat/completions", chatBody+`,"stream":true}`, toLine("data: [DONE]"), "v1")
	})
	t.Run("ResponsesStream", func(t *testing.T) {
		run(t, one, "/v1/responses", responsesBody+`,"stream":true}`, toLine(`"type":"response.completed"`), "v1")
	})
	t.Run("ChatWhole", func(t *testing.T) {
		run(t, one, "/v1/chat/completions", chatBody+`}`, object, "v1")
	})
	t.Run("ResponsesWhole", func(t *testing.T) {
		run(t, one, "/v1/responses", responsesBody+`}`, object, "v1")
	})
	t.Run("StreamAnsweredWhole", func(t *testing.T) {
		// The backend ignores "stream": the gateway relays its whole
		// answer as a stream (relayWholeAsStream).
		run(t, mustParkedProxy(t, whole.URL(), ""), "/v1/chat/completions", chatBody+`,"stream":true}`, toLine("data: [DONE]"), "v1")
	})
	t.Run("RetriedOnStable", func(t *testing.T) {
		// The split sends every request to v2, which fails; each is
		// retried on v1, which answers, and the rating is v1's.
		px := mustParkedProxy(t, stable.URL(), failing.URL())
		run(t, px, "/v1/chat/completions", chatBody+`,"stream":true}`, toLine("data: [DONE]"), "v1")
		run(t, px, "/v1/chat/completions", chatBody+`}`, object, "v1")
	})
}

// parkedProxy is a proxy served on loopback with its parked recorder.
type parkedProxy struct {
	url string
	rec *parkedRecorder
}

// mustParkedProxy serves a Proxy whose recorder is parked (parkedRecorder)
// in front of stable and, when not "", candidate, which the split gives
// every request (retried on stable when it fails).
func mustParkedProxy(t *testing.T, stable, candidate string) parkedProxy {
	t.Helper()
	rec := &parkedRecorder{spyRecorder: newSpyRecorder(), release: make(chan struct{}, 1)}
	routes := MustRoutes(t, stable, "")
	if candidate != "" {
		routes = splitRoutes(t, stable, candidate, 0)
	}
	_, url := MustProxy(t, proxy.Options{Routes: routes, Recorder: rec})
	return parkedProxy{url: url, rec: rec}
}

// TestProxy_FeedbackMirrorRegistersNothing: a mirrored request's answer
// (the shadow's, from the candidate) goes through the same relay as the
// live answer, which now registers answers there (Proxy.answered); its
// exchange has no request counter of its own and must not take a ring
// slot. With a ring of one slot every request shares slot 0, the slot a
// counter of 0 would land in: a mirror written there after its live
// answer would make the live answer's rating a 404.
func TestProxy_FeedbackMirrorRegistersNothing(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: newSpyRecorder(), FeedbackWindow: 1})
	p.SetShadow("chat", "chat:v2", 1)
	for i := range 3 {
		resp, _ := chat(t, url, "chat")
		id := resp.Header.Get("X-Request-Id")
		waitFor(t, "the mirror to finish", func() bool {
			s := p.ShadowStats()
			return s.Mirrored == int64(i+1) && s.Completed+s.Skipped == s.Mirrored
		})
		fb, body := post(t, url, "/v1/feedback", `{"request_id":"`+id+`","thumbs":"up"}`)
		if fb.StatusCode != 202 || !strings.Contains(body, `"version":"v1"`) {
			t.Fatalf("rating %d of a mirrored request's live answer: %d %s, want 202 for v1", i, fb.StatusCode, body)
		}
	}
}

// TestProxy_FeedbackAnswerCutAfterRegistered: an answer is registered for
// feedback before its last byte is written (Proxy.answered), so one whose
// client leaves during that write (a whole answer of 16 MiB, the client
// gone after its header) is registered and then canceled: it must be
// forgotten again, as an answer its client canceled takes no feedback
// (and the fleet's request log, which logs it canceled, gives it none).
func TestProxy_FeedbackAnswerCutAfterRegistered(t *testing.T) {
	text := strings.Repeat("a", 16<<20)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-v1","choices":[{"index":0,"message":{"role":"assistant","content":"`+text+`"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}`)
	}))
	t.Cleanup(backend.Close)
	rec := newSpyRecorder()
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL, ""), Recorder: rec})

	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Header.Get("X-Request-Id")
	resp.Body.Close() // most of the body unread: the connection is closed
	waitFor(t, "the cut answer's handler to end", func() bool {
		// Lowered when the handler is done, after the work after the
		// answer (the ring's forget among it).
		return p.InFlight("chat:v1") == 0 && len(rec.all()) == 1
	})
	if o := rec.all()[0]; o.ErrorClass != "canceled" {
		t.Fatalf("the answer whose client left during its body was logged %q, want canceled", o.ErrorClass)
	}
	fb, body := post(t, url, "/v1/feedback", `{"request_id":"`+id+`","thumbs":"down"}`)
	if fb.StatusCode != 404 || !strings.Contains(body, "one its client canceled") {
		t.Fatalf("feedback for an answer its client left during its last write: %d %s, want 404 (canceled answers take none)", fb.StatusCode, body)
	}
}
