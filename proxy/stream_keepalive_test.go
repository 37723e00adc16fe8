package proxy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/packages/ssestream"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// keepAlive is a keep-alive comment. It ends with its line, not with a
// blank line as well: openai-go (v1.12) takes the blank line after a
// comment for an event with no data and fails the stream on it
// ("unexpected end of JSON input"), with or without the gateway, so a
// backend whose keep-alives its clients read through openai-go sends them
// so.
const keepAlive = ": keep-alive\n"

// What the user does: streams a response (client.Responses.NewStreaming),
// or a chat completion, that the split sends to a version whose backend
// answers 200, sends response.created (or nothing), a keep-alive comment,
// and then ends, breaks off, or fails, before any of the answer.
// What happened: the comment was passed to the client at once, with the
// 200, so the stream's end reached the client as a 200 stream ending in
// the gateway's error event (or the backend's response.failed), never
// retried, where the same stream without the comment is a failed attempt
// retried on stable.
// What must happen: a comment before the answer carries nothing the
// client needs; it is held with the opening events, and the attempt
// failed (stream_broken or upstream_5xx, 502, retried on stable); a
// pinned request gets a 502 OpenAI error.
func TestStreamKeepAliveThenEndIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		for name, c := range map[string]struct {
			chat       bool
			parts      []any
			class, msg string
		}{
			"created-keepalive-end":     {parts: []any{respCreatedEvent, keepAlive}, class: "stream_broken", msg: "before its first event"},
			"in-progress-keepalives":    {parts: []any{respCreatedEvent, respInProgressEvt, keepAlive, keepAlive}, class: "stream_broken", msg: "before its first event"},
			"keepalive-first-end":       {parts: []any{keepAlive, respCreatedEvent}, class: "stream_broken", msg: "before its first event"},
			"keepalive-then-reset":      {parts: []any{respCreatedEvent, keepAlive, reviewCut}, class: "stream_broken", msg: "before its first event"},
			"keepalive-then-failed":     {parts: []any{respCreatedEvent, keepAlive, respFailedEvent}, class: "upstream_5xx", msg: "CUDA out of memory"},
			"chat-keepalive-end":        {chat: true, parts: []any{keepAlive}, class: "stream_broken", msg: "before its first event"},
			"chat-keepalive-then-error": {chat: true, parts: []any{keepAlive, vllmErrorEvent}, class: "upstream_5xx", msg: "CUDA out of memory"},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := reviewSSE(t, c.parts...)
				rec, res := newSpyRecorder(), newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
				stream := func(model string) (string, error) { return respStream(t, url, model) }
				if c.chat {
					stream = func(model string) (string, error) { return modelStream(t, url, model) }
				}
				checkFailedAttempt(t, rec, res, stream, c.class, c.msg)
			})
		}
	}
}

// What the user does: streams a response from a reasoning model whose
// backend sends response.created and then a keep-alive comment every few
// seconds while it thinks, for longer than timeouts.first_byte, before
// its first event of the answer (here: timeouts.first_byte 150 ms,
// keep-alives every 20 ms for about 300 ms, then the backend waits until
// the test has seen the client's stream begin).
// What must happen: the keep-alives keep the client's connection alive as
// they did when each passed at once: the held comments reach the client
// (its headers, so NewStreaming returns) while the backend still thinks,
// the first-byte bound does not cut the backend off (a comment is its
// first byte), and the answer follows; a success of the version, not
// retried.
func TestResponsesStreamKeptAliveWhileThinkingPasses(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			gate := make(chan struct{})
			parts := []any{respCreatedEvent}
			for range 15 {
				parts = append(parts, keepAlive)
			}
			parts = append(parts, gate, respTextDeltaEvent, respCompletedEvent)
			be := reviewSSE(t, parts...)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), be, 0), Recorder: rec, Transport: tr.rt, FirstByteTimeout: 150 * time.Millisecond})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			began := make(chan *ssestream.Stream[responses.ResponseStreamEventUnion], 1)
			go func() { began <- respSDK(url).Responses.NewStreaming(ctx, respInput("chat", "think hard")) }()
			var s *ssestream.Stream[responses.ResponseStreamEventUnion]
			select {
			case s = <-began:
			case <-time.After(5 * time.Second):
				close(gate)
				t.Fatal("the client got no answer's head while the backend kept its stream alive: the keep-alives were held back")
			}
			defer s.Close()
			close(gate)
			var text strings.Builder
			for s.Next() {
				if ev := s.Current(); ev.Type == "response.output_text.delta" {
					text.WriteString(ev.Delta.OfString)
				}
			}
			if err := s.Err(); err != nil || text.String() != "hello" {
				t.Fatalf("stream: text %q, error %v; want the thinking backend's \"hello\"", text.String(), err)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
			if o := rec.all()[0]; o.Version != "v2" || o.ErrorClass != "" || o.Status != 200 || o.Retried {
				t.Errorf("logged: %s class %q status %d retried %v, want v2's success", o.Version, o.ErrorClass, o.Status, o.Retried)
			}
		})
	}
}

// TestResponsesStreamKeepAliveThenAnswerPasses: within the hold, comments
// before the answer wait with the opening events and then reach the
// client with them and the answer: the stream is whole.
func TestResponsesStreamKeepAliveThenAnswerPasses(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			be := reviewSSE(t, respCreatedEvent, keepAlive, respInProgressEvt, keepAlive, respTextDeltaEvent, keepAlive, respCompletedEvent)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0), Recorder: rec, Transport: tr.rt})
			text, err := respStream(t, url, "chat:v2")
			if err != nil || text != "hello" {
				t.Fatalf("stream: text %q, error %v; want \"hello\"", text, err)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
			if o := rec.all()[0]; o.ErrorClass != "" || o.Status != 200 || o.Retried {
				t.Errorf("logged: class %q status %d retried %v, want a success", o.ErrorClass, o.Status, o.Retried)
			}
		})
	}
}

// What the user does: streams a response, pinned (chat:v2) or split,
// from a backend that sends response.created and a keep-alive comment and
// then nothing (a wedged worker), past timeouts.idle.
// What happened: the comment put timeouts.idle in force and the silence
// was cut off as stream_idle, logged with a 504, but the pinned client
// was answered 502 upstream_error, "failed (the backend sent nothing for
// 300ms (timeouts.idle)); try again": the log and the answer disagreed,
// and the message did not say where the silence was.
// What must happen: the attempt failed, stream_idle (a split request is
// retried on stable); a pinned request gets a 504 upstream_timeout naming
// the version, its silence before the first event and timeouts.idle, as a
// whole answer silent past timeouts.idle does.
func TestStreamKeepAliveThenSilenceIsIdle(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	const idle = 300 * time.Millisecond
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			hang := make(chan struct{}) // never closed: the backend waits for the proxy to hang up
			bad := reviewSSE(t, respCreatedEvent, keepAlive, hang)
			rec, res := newSpyRecorder(), newResults()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on,
				IdleTimeout: idle, RequestTimeout: 30 * time.Second})
			text, err := respStream(t, url, "chat")
			if err != nil || text == "" {
				t.Fatalf("split stream: text %q, error %v: want stable's answer, no error", text, err)
			}
			failed, stable := firstEventObs(t, rec, true)
			if failed.ErrorClass != "stream_idle" || failed.Status != 504 || !failed.Retried || stable.Route != "retry" || stable.Status != 200 {
				t.Errorf("split: failed attempt %q %d retried %v, then %s %d; want stream_idle 504 retried, then stable's 200",
					failed.ErrorClass, failed.Status, failed.Retried, stable.Route, stable.Status)
			}
			_, err = respStream(t, url, "chat:v2")
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 504 || apiErr.Code != "upstream_timeout" ||
				!strings.Contains(apiErr.Message, "chat:v2") || !strings.Contains(apiErr.Message, "before its first event") || !strings.Contains(apiErr.Message, "timeouts.idle") {
				t.Fatalf("pinned stream: error %v; want a 504 upstream_timeout naming chat:v2, its silence before its first event and timeouts.idle", err)
			}
			waitFor(t, "the pinned observation", func() bool { return len(rec.all()) == 3 })
			if o := rec.all()[2]; o.ErrorClass != "stream_idle" || o.Status != 504 || o.Retried {
				t.Errorf("pinned attempt: class %q status %d retried %v, want stream_idle 504", o.ErrorClass, o.Status, o.Retried)
			}
		})
	}
}
