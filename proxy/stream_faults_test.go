package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// The ways a backend's bad answer to a stream looked like a success, left
// by TestStreamErrorAsFirstEventIsAFailedAttempt and
// TestAnswerNotJSONIsAFailedAttempt: an error event named by an "event:"
// field, a Responses stream's error before its output, a whole page sent
// for a stream, and a chunk with "error": null taken for an error.

const (
	// An error event named by its field, as SSE servers write it, its data
	// an OpenAI error or a bare message.
	namedErrorEvent    = "event: error\ndata: {\"error\":{\"message\":\"CUDA out of memory\",\"type\":\"server_error\",\"code\":500}}\n\n"
	namedMessageEvent  = "event: error\ndata: {\"message\":\"CUDA out of memory\"}\n\n"
	respCreatedEvent   = "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_bad\",\"object\":\"response\",\"created_at\":1,\"model\":\"up-v2\",\"status\":\"in_progress\",\"output\":[]}}\n\n"
	respInProgressEvt  = "event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_bad\",\"object\":\"response\",\"created_at\":1,\"model\":\"up-v2\",\"status\":\"in_progress\",\"output\":[]}}\n\n"
	respErrorEvent     = "event: error\ndata: {\"type\":\"error\",\"sequence_number\":0,\"code\":\"server_error\",\"message\":\"CUDA out of memory\",\"param\":null}\n\n"
	respFailedEvent    = "event: response.failed\ndata: {\"type\":\"response.failed\",\"sequence_number\":2,\"response\":{\"id\":\"resp_bad\",\"object\":\"response\",\"created_at\":1,\"model\":\"up-v2\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"CUDA out of memory\"},\"output\":[]}}\n\n"
	respTextDeltaEvent = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"m\",\"output_index\":0,\"content_index\":0,\"delta\":\"hello\"}\n\n"
	respCompletedEvent = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":3,\"response\":{\"id\":\"resp_ok\",\"object\":\"response\",\"created_at\":1,\"model\":\"up-v1\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"id\":\"m\",\"role\":\"assistant\",\"status\":\"completed\",\"content\":[{\"type\":\"output_text\",\"text\":\"hello\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":3,\"output_tokens\":1,\"total_tokens\":4}}}\n\n"
)

// respStream streams a response of model through openai-go from the
// gateway at url (no SDK retries) and returns the text of its deltas and
// the stream's error; an "error" event the SDK hands on as an event is
// returned as an error too, so that a test sees it.
func respStream(t *testing.T, url, model string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := respSDK(url).Responses.NewStreaming(ctx, respInput(model, "hi"))
	defer s.Close()
	var text strings.Builder
	for s.Next() {
		switch ev := s.Current(); ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.Delta.OfString)
		case "error", "response.failed":
			return text.String(), errors.New("an event " + ev.Type + " in a 200 stream: " + ev.RawJSON())
		}
	}
	return text.String(), s.Err()
}

// checkFailedAttempt checks a gateway whose split sends model "chat" to
// chat:v2, whose answer fails: the split request (stream, through
// openai-go) gets stable's answer, the failed attempt is logged class with
// a 502, retried, and counted against chat:v2; a pinned request gets a 502
// *openai.Error naming chat:v2 and saying msg, logged class, not retried.
func checkFailedAttempt(t *testing.T, rec *spyRecorder, res *results, stream func(model string) (string, error), class, msg string) {
	t.Helper()
	text, err := stream("chat")
	if err != nil || text == "" {
		t.Fatalf("split stream: text %q, error %v: want stable's answer, no error", text, err)
	}
	failed, stable := firstEventObs(t, rec, true)
	if failed.ErrorClass != class || failed.Status != 502 || !failed.Retried {
		t.Errorf("failed attempt: class %q status %d retried %v, want %s 502 retried", failed.ErrorClass, failed.Status, failed.Retried, class)
	}
	if stable.Route != "retry" || stable.ErrorClass != "" || stable.Status != 200 {
		t.Errorf("stable's attempt: route %q class %q status %d, want a successful retry", stable.Route, stable.ErrorClass, stable.Status)
	}
	_, err = stream("chat:v2")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, "chat:v2") || !strings.Contains(apiErr.Message, msg) {
		t.Fatalf("pinned stream: error %v, want a 502 *openai.Error naming chat:v2 saying %q", err, msg)
	}
	waitFor(t, "the pinned observation", func() bool { return len(rec.all()) == 3 })
	if o := rec.all()[2]; o.Version != "v2" || o.ErrorClass != class || o.Status != 502 || o.Retried {
		t.Errorf("pinned attempt: %s class %q status %d retried %v, want v2 %s 502", o.Version, o.ErrorClass, o.Status, o.Retried, class)
	}
	if f, _ := res.get("chat:v2"); f != 2 {
		t.Errorf("outlier ejection saw %d failures of chat:v2, want 2", f)
	}
}

var transports = []struct {
	name string
	rt   http.RoundTripper
}{
	{"OwnClient", nil},
	{"Transport", proxy.NewTransport(5*time.Second, 5*time.Second)},
}

// What the user does: streams a chat completion (openai-go) that the split
// sends to a version whose backend answers 200 and then, as its first
// event, an error event named by an "event: error" field (its data an
// OpenAI error, or a bare {"message":...}; the field and the data line
// arriving together or apart).
// What happened: only a first line "data: {"error":...}" or "error: ..."
// was taken for an error event; this one reached the client as a 200
// stream (the SDK raised a bare error, or none for a bare message) and was
// logged as the version's success or stream_broken, never retried.
// What must happen: as for a data: error event, the attempt failed
// (upstream_5xx, 502, retried on stable); a pinned request gets a 502
// OpenAI error with the backend's message.
func TestStreamNamedErrorEventFirstIsAFailedAttempt(t *testing.T) {
	for _, tr := range transports {
		for name, parts := range map[string][]any{
			"error-member":  {namedErrorEvent},
			"message":       {namedMessageEvent},
			"field-apart":   {"event: error\n", `data: {"error":{"message":"CUDA out of memory"}}` + "\n\n"},
			"id-then-event": {"id: 1\nevent: error\n", `data: {"message":"CUDA out of memory"}` + "\r\n\r\n"},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := reviewSSE(t, parts...)
				good := sseBackend(t, chunk("hello"), finalChunk, usageChunk, doneEvent)
				rec, res := newSpyRecorder(), newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL, bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
				checkFailedAttempt(t, rec, res, func(model string) (string, error) { return modelStream(t, url, model) }, "upstream_5xx", "CUDA out of memory")
			})
		}
	}
}

// What the user does: streams a chat completion (openai-go) from a backend
// that sends a chunk of its answer and then an error event named by an
// "event: error" field, its data an OpenAI error or a bare {"message":...},
// and ends the stream.
// What happened: a bare message's event reached the client as it came,
// which the SDKs take for a chunk (they raise only an "error" member); the
// gateway then appended its own "broke off" error event and logged
// stream_broken, hiding the backend's error.
// What must happen: an event named "error" ends the stream as the
// backend's error, as a data: error event does: the client gets its
// message as an error event (the SDK raises it), nothing after it, and the
// request is logged upstream_5xx (status 200: its headers were out).
func TestStreamNamedErrorEventMidStreamIsTheBackendsError(t *testing.T) {
	for name, ev := range map[string]string{"error-member": namedErrorEvent, "message": namedMessageEvent} {
		t.Run(name, func(t *testing.T) {
			be := reviewSSE(t, chunk("hel"), ev)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
			text, err := modelStream(t, url, "chat")
			if text != "hel" || err == nil || !strings.Contains(err.Error(), "CUDA out of memory") || strings.Contains(err.Error(), "broke off") {
				t.Errorf("SDK: text %q, error %v: want the chunk, then the backend's error", text, err)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
			if o := rec.all()[0]; o.ErrorClass != "upstream_5xx" || o.Status != 200 {
				t.Errorf("logged: class %q status %d, want upstream_5xx 200", o.ErrorClass, o.Status)
			}
		})
	}
}

// What the user does: streams a response (client.Responses.NewStreaming)
// that the split sends to a version whose backend answers 200 and then
// fails before any output: an "error" event first, or response.created
// and response.in_progress and then response.failed.
// What happened: Responses streams were left out of the first-event check:
// the client got a 200 stream of the backend's failure (the SDK hands the
// events on, with no error), never stable's answer; logged upstream_5xx
// with status 200, not retried.
// What must happen: nothing of an answer has come, so it is a failed
// attempt of the version (upstream_5xx, 502, retried on stable); a pinned
// request gets a 502 OpenAI error with the backend's message.
func TestResponsesStreamErrorBeforeOutputIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		for name, parts := range map[string][]any{
			"error-first":        {respErrorEvent},
			"failed-after-start": {respCreatedEvent, respInProgressEvt, respFailedEvent},
			"failed-at-once":     {respCreatedEvent + respInProgressEvt + respFailedEvent},
			// response.created echoes the request's instructions and
			// tools: 20 KiB of them, past a chat stream's 8 KiB reader.
			"failed-after-long-created": {strings.Replace(respCreatedEvent, `"output":[]`, `"output":[],"instructions":"`+strings.Repeat("be brief. ", 2048)+`"`, 1), respInProgressEvt, respFailedEvent},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := reviewSSE(t, parts...)
				rec, res := newSpyRecorder(), newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
				checkFailedAttempt(t, rec, res, func(model string) (string, error) { return respStream(t, url, model) }, "upstream_5xx", "CUDA out of memory")
			})
		}
	}
}

// What the user does: asks for a stream ("stream": true; chat through
// client.Chat.Completions.NewStreaming, and a response through
// client.Responses.NewStreaming) that the split sends to a version whose
// backend, or a proxy in front of it, answers 200 with one whole page that
// is not JSON and not a stream (an HTML error page, with its type or none).
// What happened: the page was passed on with its 200 (the SDK failed on
// it, or read no events) and counted a success.
// What must happen: as for a whole answer that is not JSON, the attempt
// failed (upstream_invalid, 502, retried on stable); a pinned request gets
// a 502 OpenAI error naming the version and the page's start.
func TestStreamAnsweredByAPageIsAFailedAttempt(t *testing.T) {
	const page = "<html><body><h1>502 Bad Gateway</h1></body></html>\n"
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		for name, head := range map[string]string{
			"html":    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n",
			"no-type": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
		} {
			for api, stream := range map[string]func(url, model string) (string, error){
				"chat":      func(url, model string) (string, error) { return modelStream(t, url, model) },
				"responses": func(url, model string) (string, error) { return respStream(t, url, model) },
			} {
				t.Run(tr.name+"/"+name+"/"+api, func(t *testing.T) {
					bad := reviewBackend(t, head, page)
					rec, res := newSpyRecorder(), newResults()
					_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
					checkFailedAttempt(t, rec, res, func(model string) (string, error) { return stream(url, model) }, "upstream_invalid", "502 Bad Gateway")
				})
			}
		}
	}
}

// What the user does: streams a chat completion (openai-go) whose backend
// sends chunks carrying "error": null (as a first event, and mid-stream).
// What happened: a null "error" mid-stream was taken for the backend's
// error: the request was logged upstream_5xx against its version, and the
// chunk passed on as it came, which openai-go raises as an error ("received
// error while streaming"), losing the rest of the answer.
// What must happen: a null is no error: the request is a success, and the
// client gets the whole answer (the null member left out of the chunk).
func TestStreamNullErrorIsNoError(t *testing.T) {
	const nullFirst = `data: {"id":"c","object":"chat.completion.chunk","error":null,"choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]}` + "\n\n"
	const nullMid = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"error":null}` + "\r\n\r\n"
	be := reviewSSE(t, nullFirst, nullMid, finalChunk, usageChunk, doneEvent)
	rec := newSpyRecorder()
	res := newResults()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec, OnResult: res.on})

	text, err := modelStream(t, url, "chat")
	if text != "hello" || err != nil {
		t.Errorf("SDK: text %q, error %v: want the whole answer", text, err)
	}
	resp, body := post(t, url, "/v1/chat/completions", streamBody)
	if resp.StatusCode != 200 || !strings.Contains(body, `"content":"lo"`) || strings.Contains(body, `"error"`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream: status %d, body %q: want the answer, its null errors left out", resp.StatusCode, body)
	}
	waitFor(t, "two observations", func() bool { return len(rec.all()) == 2 })
	for _, o := range rec.all() {
		if o.ErrorClass != "" || o.Status != 200 || o.FinishReason != "stop" {
			t.Errorf("logged: class %q status %d finish %q, want a success", o.ErrorClass, o.Status, o.FinishReason)
		}
	}
	if f, ok := res.get("chat:v1"); f != 0 || ok != 2 {
		t.Errorf("outlier ejection saw %d failures, %d successes; want 0 and 2", f, ok)
	}
}

// What the user does: streams from backends whose events carry fields
// before their data: a chat stream whose every event is named "message"
// (with an id, the field arriving before its data line), and a Responses
// stream of typed events (response.created and response.in_progress before
// its first delta, arriving apart).
// What must happen: both pass as before: the stream's first event is no
// error, the client gets the whole answer and the request is a success.
func TestStreamNamedEventsPass(t *testing.T) {
	named := func(s string) string { return "event: message\n" + s }
	for _, tr := range transports {
		t.Run(tr.name+"/chat", func(t *testing.T) {
			be := reviewSSE(t, "id: 1\nevent: message\n", chunk("hel"), named(chunk("lo")), named(finalChunk), named(usageChunk), doneEvent)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec, Transport: tr.rt})
			text, err := modelStream(t, url, "chat")
			if text != "hello" || err != nil {
				t.Errorf("SDK: text %q, error %v: want the whole answer", text, err)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
			if o := rec.all()[0]; o.ErrorClass != "" || o.Status != 200 || o.FinishReason != "stop" || o.OutputTokens != 2 {
				t.Errorf("logged: class %q status %d finish %q output tokens %d, want a success", o.ErrorClass, o.Status, o.FinishReason, o.OutputTokens)
			}
		})
		t.Run(tr.name+"/responses", func(t *testing.T) {
			be := reviewSSE(t, respCreatedEvent, respInProgressEvt, respTextDeltaEvent, respCompletedEvent)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec, Transport: tr.rt})
			text, err := respStream(t, url, "chat")
			if text != "hello" || err != nil {
				t.Errorf("SDK: text %q, error %v: want the whole answer", text, err)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
			if o := rec.all()[0]; o.ErrorClass != "" || o.Status != 200 || o.FinishReason != "stop" || o.OutputTokens != 1 {
				t.Errorf("logged: class %q status %d finish %q output tokens %d, want a success", o.ErrorClass, o.Status, o.FinishReason, o.OutputTokens)
			}
		})
	}
}

// What the user does: asks for a stream ("stream": true; chat through
// client.Chat.Completions.NewStreaming, and a response through
// client.Responses.NewStreaming) that the split sends to a version whose
// backend answers 200 with one whole JSON error instead of a stream
// ({"error":{...}} as vLLM and OpenAI shape it, or TGI's {"error":"..."}),
// with a JSON type or none.
// What happened: the body was valid JSON, so it passed with its 200 as a
// success; openai-go read no event from it and ended the stream with no
// text and no error: the client's answer was silently empty.
// What must happen: as for an error event first in a stream, the attempt
// failed (upstream_5xx, 502, retried on stable); a pinned request gets a
// 502 OpenAI error with the backend's message.
func TestStreamAnsweredByAJSONErrorIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		for name, answer := range map[string]string{
			"json-object": "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + `{"error":{"message":"CUDA out of memory","type":"server_error","code":500}}`,
			"no-type":     "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + `{"object":"error","error":"CUDA out of memory"}` + "\n",
		} {
			for api, stream := range map[string]func(url, model string) (string, error){
				"chat":      func(url, model string) (string, error) { return modelStream(t, url, model) },
				"responses": func(url, model string) (string, error) { return respStream(t, url, model) },
			} {
				t.Run(tr.name+"/"+name+"/"+api, func(t *testing.T) {
					bad := reviewBackend(t, answer)
					rec, res := newSpyRecorder(), newResults()
					_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
					checkFailedAttempt(t, rec, res, func(model string) (string, error) { return stream(url, model) }, "upstream_5xx", "CUDA out of memory")
				})
			}
		}
	}
}

// What the user does: streams a response (client.Responses.NewStreaming)
// that the split sends to a version whose backend answers 200, sends
// response.created and response.in_progress, and then ends the stream or
// breaks it off (its engine died during the prefill) before any of the
// answer.
// What happened: the first-event check waited past those two events for
// the one that decides, and when the stream ended first let it pass: the
// held events reached the client as a 200 stream followed by the gateway's
// "broke off" error event (logged stream_broken with status 200, not
// retried), where a chat stream that dies before its first event is
// retried on stable.
// What must happen: nothing of an answer has come, so it is a failed
// attempt of the version (stream_broken, 502, retried on stable); a pinned
// request gets a 502 OpenAI error naming the version and saying its stream
// broke off before its first event.
func TestResponsesStreamEndedBeforeOutputIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		for name, parts := range map[string][]any{
			"ended":             {respCreatedEvent, respInProgressEvt},
			"ended-mid-event":   {respCreatedEvent, respInProgressEvt, "event: response.output_item.added\ndata: {\"type\":\"resp"},
			"reset":             {respCreatedEvent, respInProgressEvt, reviewCut},
			"ended-after-field": {respCreatedEvent, "event: response.in_progress\n"},
			// A response.created over the 8 KiB stream reader moves the
			// wait to a 64 KiB one (growReader) before the end is seen.
			"ended-after-long-created": {strings.Replace(respCreatedEvent, `"output":[]`, `"output":[],"instructions":"`+strings.Repeat("be brief. ", 2048)+`"`, 1), respInProgressEvt},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := reviewSSE(t, parts...)
				rec, res := newSpyRecorder(), newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
				checkFailedAttempt(t, rec, res, func(model string) (string, error) { return respStream(t, url, model) }, "stream_broken", "before its first event")
			})
		}
	}
}

// What the user does: streams a response (client.Responses.NewStreaming)
// whose backend answers properly with nothing in it: response.completed
// with no output (or an empty text), response.incomplete before any
// output (max_output_tokens spent on reasoning), after a 20 KiB
// response.created, or after a keep-alive comment.
// What must happen: each is the backend's whole answer, not a stream that
// ended before its answer (errEndedBeforeAnswer): a 200 stream the SDK
// reads to its end without an error, logged a success, not retried.
func TestResponsesStreamWithoutOutputIsNotAFailedAttempt(t *testing.T) {
	emptyCompleted := strings.Replace(respCompletedEvent, `{"type":"message","id":"m","role":"assistant","status":"completed","content":[{"type":"output_text","text":"hello","annotations":[]}]}`, "", 1)
	emptyText := strings.Replace(respCompletedEvent, `"text":"hello"`, `"text":""`, 1)
	incomplete := strings.NewReplacer("response.completed", "response.incomplete", `"status":"completed"`, `"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}`).Replace(emptyCompleted)
	longCreated := strings.Replace(respCreatedEvent, `"output":[]`, `"output":[],"instructions":"`+strings.Repeat("be brief. ", 2048)+`"`, 1)
	for _, tr := range transports {
		for name, parts := range map[string][]any{
			"completed-no-output":         {respCreatedEvent, respInProgressEvt, emptyCompleted},
			"completed-empty-text":        {respCreatedEvent, respInProgressEvt, emptyText},
			"incomplete-no-output":        {respCreatedEvent, respInProgressEvt, incomplete},
			"long-created-then-completed": {longCreated, respInProgressEvt, emptyCompleted},
			"all-at-once":                 {respCreatedEvent + respInProgressEvt + emptyCompleted},
			"keepalive-then-completed":    {respCreatedEvent, ": keep-alive\n\n", emptyCompleted},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				be := reviewSSE(t, parts...)
				rec := newSpyRecorder()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0), Recorder: rec, Transport: tr.rt})
				if _, err := respStream(t, url, "chat:v2"); err != nil {
					t.Errorf("SDK: error %v, want the backend's answer without output", err)
				}
				waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
				if o := rec.all()[0]; o.ErrorClass != "" || o.Status != 200 || o.Retried {
					t.Errorf("logged: class %q status %d retried %v, want a success", o.ErrorClass, o.Status, o.Retried)
				}
			})
		}
	}
}
