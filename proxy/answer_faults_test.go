package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// Backends that fail after their 200 as real model servers do: vLLM and
// llama.cpp send an error event ({"error":{...}}) when a request fails once
// its stream's headers are out, vLLM then "data: [DONE]"; TGI sends
// {"error":"...","error_type":"..."} and ends the stream.
const (
	vllmErrorEvent = `data: {"error": {"object": "error", "message": "CUDA out of memory. Tried to allocate 2.00 GiB", "type": "InternalServerError", "param": null, "code": 500}}` + "\n\n"
	tgiErrorEvent  = `data:{"error":"Request failed during generation: CUDA out of memory","error_type":"generation"}` + "\n\n"
	// Older llama.cpp servers sent theirs as a bare "error:" line (the
	// event's name where SSE has a field), which the SDKs ignore.
	llamaBareErrorEvent = `error: {"code":500,"message":"CUDA out of memory","type":"server_error"}` + "\n\n"
)

// modelStream streams a chat completion of model through openai-go from the
// gateway at url (no SDK retries) and returns the text it got and the
// stream's error.
func modelStream(t *testing.T, url, model string) (string, error) {
	t.Helper()
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	defer s.Close()
	var text strings.Builder
	for s.Next() {
		for _, c := range s.Current().Choices {
			text.WriteString(c.Delta.Content)
		}
	}
	return text.String(), s.Err()
}

// results records OnResult's outcomes per version, as outlier ejection
// reads them.
type results struct {
	mu     sync.Mutex
	failed map[string]int
	ok     map[string]int
}

func newResults() *results { return &results{failed: map[string]int{}, ok: map[string]int{}} }

func (r *results) on(id string, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if failed {
		r.failed[id]++
	} else {
		r.ok[id]++
	}
}

func (r *results) get(id string) (failed, ok int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed[id], r.ok[id]
}

// What the user does: streams a chat completion (openai-go) that the split
// sends to a version whose backend answers 200 and then, as its first
// event, an error event (vLLM's CUDA out of memory, then [DONE]; TGI's,
// then the end of the body), through the gateway's own client and an
// http.Transport.
// What happened: the client got a 200 stream carrying the error (the SDK
// raises a bare "received error while streaming"), never retried on stable
// though nothing of an answer had reached it; vLLM's was logged
// upstream_5xx with status 200, TGI's stream_broken with a second error
// event from the gateway.
// What must happen: the gateway holds a stream's headers for its first
// event, so an error there is a failed attempt of the version
// (upstream_5xx, 502, retried), counted against it for the analysis and
// outlier ejection; the split request gets stable's stream. A pinned
// request gets a 502 OpenAI error answer naming the version and keeping
// the backend's message, which openai-go returns as an *openai.Error with
// its status (and retries, as for any 5xx, when retries are on).
func TestStreamErrorAsFirstEventIsAFailedAttempt(t *testing.T) {
	for _, tr := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"OwnClient", nil},
		{"Transport", proxy.NewTransport(5*time.Second, 5*time.Second)},
	} {
		for name, parts := range map[string][]any{
			"vLLM":           {vllmErrorEvent, doneEvent},
			"TGI":            {tgiErrorEvent},
			"llama.cpp-bare": {llamaBareErrorEvent},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := reviewSSE(t, parts...)
				good := sseBackend(t, chunk("hello"), finalChunk, usageChunk, doneEvent)
				rec := newSpyRecorder()
				res := newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL, bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})

				text, err := modelStream(t, url, "chat")
				if err != nil || text != "hello" {
					t.Fatalf("split stream: text %q, error %v: want stable's answer, no error", text, err)
				}
				failed, stable := firstEventObs(t, rec, true)
				if failed.ErrorClass != "upstream_5xx" || failed.Status != 502 || !failed.Retried {
					t.Errorf("failed attempt: class %q status %d retried %v, want upstream_5xx 502 retried", failed.ErrorClass, failed.Status, failed.Retried)
				}
				if stable.Route != "retry" || stable.ErrorClass != "" {
					t.Errorf("stable's attempt: route %q class %q, want a successful retry", stable.Route, stable.ErrorClass)
				}
				if f, _ := res.get("chat:v2"); f != 1 {
					t.Errorf("outlier ejection saw %d failures of chat:v2, want 1", f)
				}

				_, err = modelStream(t, url, "chat:v2")
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, "CUDA out of memory") || !strings.Contains(apiErr.Message, "chat:v2") {
					t.Fatalf("pinned stream: error %v, want a 502 *openai.Error naming chat:v2 with the backend's message", err)
				}
				resp, body := post(t, url, "/v1/chat/completions", strings.Replace(streamBody, `"chat"`, `"chat:v2"`, 1))
				if resp.StatusCode != 502 || resp.Header.Get("X-Model-Version") != "chat:v2" || !strings.Contains(body, `"code":"upstream_error"`) || strings.Contains(body, "data:") {
					t.Errorf("pinned: status %d from %q, body %q: want a 502 upstream_error answer, not a stream", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
				}
				var pinned int
				for _, o := range rec.all() {
					if o.Version == "v2" && o.Route != "split" {
						pinned++
						if o.ErrorClass != "upstream_5xx" || o.Status != 502 || o.Retried {
							t.Errorf("pinned attempt: class %q status %d retried %v, want upstream_5xx 502", o.ErrorClass, o.Status, o.Retried)
						}
					}
				}
				if f, _ := res.get("chat:v2"); pinned != 2 || f != 3 {
					t.Errorf("%d pinned observations, %d failures for outlier ejection; want 2 and 3", pinned, f)
				}
			})
		}
	}
}

// What the user does: streams a chat completion (openai-go) from a backend
// that sends a chunk of its answer, then an error event, and then ends the
// stream: without "data: [DONE]" (TGI, llama.cpp; also with the event
// left open, or the connection reset after it), or with it (vLLM).
// What happened: without [DONE] the gateway appended its own error event
// ("broke off the stream; retry the request") after the backend's, and
// logged stream_broken, hiding the backend's error.
// What must happen: the backend's error event ends the stream as the
// backend's error: the client gets that one error event (the event ended
// if the backend left it open, so the SDK reads it) and nothing after it,
// and the request is logged upstream_5xx (status 200, its headers were
// sent), a failure of the version; with [DONE] it stays so.
func TestStreamErrorEventMidStreamIsTheBackendsError(t *testing.T) {
	const open = `data: {"error":{"code":500,"message":"CUDA out of memory","type":"server_error"}}` + "\n"
	for name, parts := range map[string][]any{
		"vLLM-done":  {chunk("hel"), vllmErrorEvent, doneEvent},
		"TGI-end":    {chunk("hel"), tgiErrorEvent},
		"left-open":  {chunk("hel"), open},
		"then-reset": {chunk("hel"), vllmErrorEvent, reviewCut},
		// A bare "error:" line is passed on as a data: error event, which
		// the SDK raises; as it was, the SDK ignored it and the stream
		// looked whole (stream_broken in the log).
		"llama.cpp-bare": {chunk("hel"), llamaBareErrorEvent},
	} {
		t.Run(name, func(t *testing.T) {
			be := reviewSSE(t, parts...)
			rec := newSpyRecorder()
			res := newResults()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec, OnResult: res.on})

			text, err := modelStream(t, url, "chat")
			if text != "hel" || err == nil || !strings.Contains(err.Error(), "CUDA out of memory") || strings.Contains(err.Error(), "broke off") {
				t.Errorf("SDK: text %q, error %v: want the chunk, then the backend's error", text, err)
			}
			resp, body := post(t, url, "/v1/chat/completions", streamBody)
			if resp.StatusCode != 200 || strings.Count(body, "CUDA out of memory") != 1 || strings.Contains(body, "broke off") || !strings.HasSuffix(body, "\n\n") && !strings.HasSuffix(body, "[DONE]\n\n") {
				t.Errorf("stream: status %d, body %q: want the backend's error event alone, ended", resp.StatusCode, body)
			}
			waitFor(t, "two observations", func() bool { return len(rec.all()) == 2 })
			for _, o := range rec.all() {
				if o.ErrorClass != "upstream_5xx" || o.Status != 200 {
					t.Errorf("logged: class %q status %d, want upstream_5xx 200", o.ErrorClass, o.Status)
				}
			}
			if f, _ := res.get("chat:v1"); f != 2 {
				t.Errorf("outlier ejection saw %d failures, want 2", f)
			}
		})
	}
}

// jsonBackend answers every request 200 with body and the headers given
// as name, value pairs.
func jsonBackend(t *testing.T, body []byte, hdr ...string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// What the user does: asks for a whole chat completion (openai-go) that
// the split sends to a version whose backend answers 200 with a body cut
// short ({"id":"x","choices":[), one that is not JSON (an HTML page), or
// none, through the gateway's own client and an http.Transport.
// What happened: the body was passed on with its 200 (the SDK fails to
// parse it) and the request logged a success.
// What must happen: the gateway holds a whole answer before sending it, so
// such an answer is a failed attempt of the version (upstream_invalid,
// 502), retried on stable for a routed request (the client gets stable's
// answer) and counted against the version; a pinned request gets a 502
// OpenAI error naming the version, which the SDK returns as an
// *openai.Error.
func TestAnswerNotJSONIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"OwnClient", nil},
		{"Transport", proxy.NewTransport(5*time.Second, 5*time.Second)},
	} {
		for name, body := range map[string]string{
			"cut":   `{"id":"x","choices":[`,
			"html":  "<html><body>502 Bad Gateway</body></html>",
			"empty": "",
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := jsonBackend(t, []byte(body))
				rec := newSpyRecorder()
				res := newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
				client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				params := func(model string) openai.ChatCompletionNewParams {
					return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
				}

				c, err := client.Chat.Completions.New(ctx, params("chat"))
				if err != nil || len(c.Choices) == 0 || c.Choices[0].Message.Content == "" {
					t.Fatalf("split request: %v, want stable's answer", err)
				}
				failed, stable := firstEventObs(t, rec, true)
				if failed.ErrorClass != "upstream_invalid" || failed.Status != 502 || !failed.Retried {
					t.Errorf("failed attempt: class %q status %d retried %v, want upstream_invalid 502 retried", failed.ErrorClass, failed.Status, failed.Retried)
				}
				if stable.Route != "retry" || stable.ErrorClass != "" {
					t.Errorf("stable's attempt: route %q class %q, want a successful retry", stable.Route, stable.ErrorClass)
				}

				_, err = client.Chat.Completions.New(ctx, params("chat:v2"))
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != 502 || !strings.Contains(apiErr.Message, "chat:v2") {
					t.Fatalf("pinned request: %v, want a 502 *openai.Error naming chat:v2", err)
				}
				resp, got := post(t, url, "/v1/chat/completions", `{"model":"chat:v2","messages":[{"role":"user","content":"hi"}]}`)
				if resp.StatusCode != 502 || !strings.Contains(got, `"code":"upstream_error"`) || resp.Header.Get("X-Model-Version") != "chat:v2" {
					t.Errorf("pinned: status %d from %q, body %q: want a 502 upstream_error", resp.StatusCode, resp.Header.Get("X-Model-Version"), got)
				}
				waitFor(t, "the pinned observations", func() bool { return len(rec.all()) == 4 })
				for _, o := range rec.all()[2:] {
					if o.Version != "v2" || o.ErrorClass != "upstream_invalid" || o.Status != 502 || o.Retried {
						t.Errorf("pinned attempt: %s class %q status %d retried %v, want v2 upstream_invalid 502", o.Version, o.ErrorClass, o.Status, o.Retried)
					}
				}
				if f, _ := res.get("chat:v2"); f != 3 {
					t.Errorf("outlier ejection saw %d failures of chat:v2, want 3", f)
				}
			})
		}
	}
}

// What the user does: asks for a whole chat completion whose backend
// answers gzip-encoded JSON (the client accepted gzip, which the gateway
// passes on), and one that answers valid JSON the walker does not read
// (choices as an object).
// What must happen: both pass as before, with their 200: only a body that
// is not JSON is an invalid answer, and an encoded one is not read.
func TestAnswerEncodedOrOddJSONPasses(t *testing.T) {
	answer := `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(answer))
	zw.Close()
	for name, be := range map[string]string{
		"gzip": jsonBackend(t, gz.Bytes(), "Content-Encoding", "gzip"),
		"odd":  jsonBackend(t, []byte(`{"id":"x","choices":{"0":{"message":{"content":"hi"}}}}`)),
	} {
		t.Run(name, func(t *testing.T) {
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be, ""), Recorder: rec})
			resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`, "Accept-Encoding", "gzip")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, body %q: want the backend's 200", resp.StatusCode, body)
			}
			waitFor(t, "the observation", func() bool { return len(rec.all()) == 1 })
			if o := rec.all()[0]; o.ErrorClass != "" {
				t.Errorf("logged %q, want a success", o.ErrorClass)
			}
		})
	}
}

// What the user does: asks for a whole chat completion (openai-go) that
// the split sends to a version whose backend answers 200 and then breaks
// off its body (Content-Length promises 400 bytes; the connection closes,
// or is reset, after 21), or goes silent in it past timeouts.idle, through
// the gateway's own client and an http.Transport.
// What happened: the gateway holds such an answer whole before sending it,
// so nothing had reached the client, yet the split request got a 502
// ("broke off its answer") or a 504 instead of stable's answer, while a
// body that arrived whole but cut short was retried: the commonest way a
// whole answer is cut short (the backend dying mid-body) was the one not
// retried, and its endpoint was counted a success for balancing.
// What must happen: it is a failed attempt of the version (stream_broken
// 502, stream_idle 504), retried on stable for a routed request; a pinned
// request gets the failure as before.
func TestAnswerBrokenOffIsAFailedAttempt(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
	const part = `{"id":"x","choices":[`
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"OwnClient", nil},
		{"Transport", proxy.NewTransport(5*time.Second, 5*time.Second)},
	} {
		for name, k := range map[string]struct {
			parts  []any
			class  string
			status int
			msg    string
		}{
			"closed": {[]any{part}, "stream_broken", 502, "broke off its answer"},
			"reset":  {[]any{part, reviewCut}, "stream_broken", 502, "broke off its answer"},
			"silent": {[]any{part, make(chan struct{})}, "stream_idle", 504, "timeouts.idle"},
		} {
			t.Run(tr.name+"/"+name, func(t *testing.T) {
				bad := reviewBackend(t, head, k.parts...)
				rec := newSpyRecorder()
				res := newResults()
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on,
					RequestTimeout: 30 * time.Second, IdleTimeout: 300 * time.Millisecond})
				client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				params := func(model string) openai.ChatCompletionNewParams {
					return openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
				}

				c, err := client.Chat.Completions.New(ctx, params("chat"))
				if err != nil || len(c.Choices) == 0 || c.Choices[0].Message.Content == "" {
					t.Fatalf("split request: %v, want stable's answer", err)
				}
				failed, stable := firstEventObs(t, rec, true)
				if failed.ErrorClass != k.class || failed.Status != k.status || !failed.Retried {
					t.Errorf("failed attempt: class %q status %d retried %v, want %s %d retried", failed.ErrorClass, failed.Status, failed.Retried, k.class, k.status)
				}
				if stable.Route != "retry" || stable.ErrorClass != "" {
					t.Errorf("stable's attempt: route %q class %q, want a successful retry", stable.Route, stable.ErrorClass)
				}

				_, err = client.Chat.Completions.New(ctx, params("chat:v2"))
				var apiErr *openai.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != k.status || !strings.Contains(apiErr.Message, "chat:v2") || !strings.Contains(apiErr.Message, k.msg) {
					t.Fatalf("pinned request: %v, want a %d *openai.Error naming chat:v2 saying %q", err, k.status, k.msg)
				}
				waitFor(t, "the pinned observation", func() bool { return len(rec.all()) == 3 })
				if o := rec.all()[2]; o.Version != "v2" || o.ErrorClass != k.class || o.Status != k.status || o.Retried {
					t.Errorf("pinned attempt: %s class %q status %d retried %v, want v2 %s %d", o.Version, o.ErrorClass, o.Status, o.Retried, k.class, k.status)
				}
				if f, _ := res.get("chat:v2"); f != 2 {
					t.Errorf("outlier ejection saw %d failures of chat:v2, want 2", f)
				}
			})
		}
	}
}
