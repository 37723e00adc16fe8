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

// keepAlive is a keep-alive comment as backends send it, a block of its
// own: the comment and a blank line (sse-starlette's ": ping - …",
// OpenRouter's ": OPENROUTER PROCESSING").
const keepAlive = ": keep-alive\n\n"

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

// What the user does: streams a chat completion or a response through
// openai-go from a backend that sends keep-alive comments, each a block of
// its own (a comment, then a blank line; with \r\n as sse-starlette ends
// its lines; an empty comment; a stray blank line), before its first
// event and between its events.
// What happened: the gateway passed each block as it came, and openai-go
// (v1.12) takes the blank line that ends a block of comments for an event
// with no data: the stream failed with "unexpected end of JSON input" at
// the first keep-alive that reached it (a reasoning model's stream kept
// alive while it thinks, a slow answer's), as it does from the backend
// directly, where the SSE standard dispatches no event.
// What must happen: the comments reach the client (they keep its
// connection alive), the blank lines that end blocks of comments alone do
// not; the events are the backend's, byte for byte, and the SDK reads the
// whole answer with no error.
func TestStreamKeepAliveBlocksDoNotBreakOpenAIGo(t *testing.T) {
	const ping = ": ping - 2026-12-07 10:00:00.000000+00:00\r\n\r\n"
	chat := []string{keepAlive, ping, chunk("hel"), keepAlive, ":\n\n", chunk("lo"), "\n", ping, finalChunk, keepAlive, doneEvent}
	resp := []string{respCreatedEvent, keepAlive, respInProgressEvt, ping, respTextDeltaEvent, keepAlive, ":\n\n", "\n", respCompletedEvent}
	// What the client reads: each block of comments alone without the
	// blank line that ends it.
	relayed := func(parts []string) string {
		without := map[string]string{keepAlive: ": keep-alive\n", ping: strings.TrimSuffix(ping, "\r\n"), ":\n\n": ":\n", "\n": ""}
		var b strings.Builder
		for _, p := range parts {
			if w, ok := without[p]; ok {
				p = w
			}
			b.WriteString(p)
		}
		return b.String()
	}
	parts := func(ss []string) []any {
		var out []any
		for _, s := range ss {
			out = append(out, s)
		}
		return out
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			chatBE, respBE := reviewSSE(t, parts(chat)...), reviewSSE(t, parts(resp)...)
			_, chatURL := MustProxy(t, proxy.Options{Routes: splitRoutes(t, chatBE, chatBE, 0), Transport: tr.rt})
			_, respURL := MustProxy(t, proxy.Options{Routes: splitRoutes(t, respBE, respBE, 0), Transport: tr.rt})
			if text, err := modelStream(t, chatURL, "chat:v2"); err != nil || text != "hello" {
				t.Errorf("chat through openai-go: text %q, error %v; want \"hello\", no error", text, err)
			}
			if text, err := respStream(t, respURL, "chat:v2"); err != nil || text != "hello" {
				t.Errorf("responses through openai-go: text %q, error %v; want \"hello\", no error", text, err)
			}
			for _, c := range []struct {
				url, path, body string
				parts           []string
			}{
				{chatURL, "/v1/chat/completions", `{"model":"chat:v2","stream":true,"stream_options":{"include_usage":true},"messages":[]}`, chat},
				{respURL, "/v1/responses", `{"model":"chat:v2","input":"hi","stream":true}`, resp},
			} {
				if _, body := post(t, c.url, c.path, c.body); body != relayed(c.parts) {
					t.Errorf("%s: the client read\n%q\nwant the backend's stream without the blank lines ending comments alone\n%q", c.path, body, relayed(c.parts))
				}
			}
		})
	}
}
