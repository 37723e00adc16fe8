package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// idleBound is the idle bound of these tests. The request timeout is far
// longer, so only the idle bound can end a stalled answer in time.
const idleBound = time.Second

// idleClients are the proxy's two ways to a backend: its own client and an
// http.RoundTripper (Options.Transport).
var idleClients = map[string]func() http.RoundTripper{
	"own client": func() http.RoundTripper { return nil },
	"transport":  func() http.RoundTripper { return proxy.NewTransport(5*time.Second, 5*time.Second) },
}

// idleProxy serves a proxy to backend with the idle bound, recording into
// rec and log and counting each version's failures as outlier ejection
// sees them (OnResult).
type idleProxy struct {
	url      string
	rec      *observe.Recorder
	log      *spyLog
	mu       sync.Mutex
	failures map[string]int
}

func newIdleProxy(t *testing.T, backend string, transport http.RoundTripper) *idleProxy {
	t.Helper()
	ip := &idleProxy{rec: observe.New(observe.Options{}), log: &spyLog{}, failures: map[string]int{}}
	opt := proxy.Options{
		Routes: MustRoutes(t, backend, ""), Recorder: ip.rec, Log: ip.log, NoRetry: true,
		RequestTimeout: 30 * time.Second, IdleTimeout: idleBound, Transport: transport,
		OnResult: func(id string, failed bool) {
			if failed {
				ip.mu.Lock()
				ip.failures[id]++
				ip.mu.Unlock()
			}
		},
	}
	_, ip.url = MustProxy(t, opt)
	return ip
}

// row waits for the request's log row and returns its error class.
func (ip *idleProxy) row(t *testing.T) string {
	t.Helper()
	waitFor(t, "the request log row", func() bool { return len(ip.log.all()) > 0 })
	rows := ip.log.all()
	if len(rows) != 1 {
		t.Fatalf("%d request log rows, want 1: %+v", len(rows), rows)
	}
	return rows[0].ErrorClass
}

// checkFailure checks that the stalled request counts as chat:v1's failure
// where failures are counted: outlier ejection (OnResult), the analysis'
// window and /metrics.
func (ip *idleProxy) checkFailure(t *testing.T) {
	t.Helper()
	ip.mu.Lock()
	n := ip.failures["chat:v1"]
	ip.mu.Unlock()
	if n != 1 {
		t.Errorf("outlier ejection was told of %d failures of chat:v1, want 1", n)
	}
	if s := ip.rec.Window("chat", "v1", "", time.Now().Add(-time.Minute)); s.Errors != 1 || s.ErrorClasses["stream_idle"] != 1 {
		t.Errorf("the analysis window of chat:v1 has %d errors, classes %v; want 1 stream_idle", s.Errors, s.ErrorClasses)
	}
	mfs, err := ip.rec.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, mf := range mfs {
		if mf.GetName() != "sluice_request_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := ""
			for _, l := range m.GetLabel() {
				s += l.GetName() + "=" + l.GetValue() + ","
			}
			series = append(series, s+" "+strconv.FormatFloat(m.GetCounter().GetValue(), 'g', -1, 64))
		}
	}
	if want := "category=none,error_class=stream_idle,model=chat,version=v1, 1"; len(series) != 1 || series[0] != want {
		t.Errorf("/metrics sluice_request_errors_total: %q, want %q", series, want)
	}
}

// What the user does: streams a chat completion with the OpenAI SDK from a
// backend that sends one event and then nothing, keeping the connection
// open (a wedged GPU worker).
// What happened: the stream hung until timeouts.request (10 minutes by
// default), however soon the backend had gone silent.
// What must happen: an idle bound after the last byte, the stream ends
// with an error event naming the version and timeouts.idle; the request
// is logged as stream_idle and counts as the version's failure.
func TestStream_IdleBackendIsCutOff(t *testing.T) {
	for name, transport := range idleClients {
		t.Run(name, func(t *testing.T) {
			stall := make(chan struct{})
			defer close(stall)
			be := reviewSSE(t, chunk("a"), stall)
			ip := newIdleProxy(t, be, transport())
			client := openai.NewClient(option.WithBaseURL(ip.url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model:    "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			})
			defer s.Close()
			var text strings.Builder
			var first time.Time
			for s.Next() {
				if first.IsZero() {
					first = time.Now()
				}
				for _, c := range s.Current().Choices {
					text.WriteString(c.Delta.Content)
				}
			}
			took := time.Since(first)
			err := s.Err()
			if text.String() != "a" || first.IsZero() {
				t.Fatalf("the client got %q before the stall, want the first event's \"a\"", text.String())
			}
			if err == nil || !strings.Contains(err.Error(), "chat:v1") || !strings.Contains(err.Error(), "timeouts.idle") || !strings.Contains(err.Error(), "upstream_timeout") {
				t.Errorf("the stream ended with %v; want the gateway's error event naming chat:v1, timeouts.idle and code upstream_timeout", err)
			}
			// The backend's wait began before the client had the event, so
			// the bound cannot end the stream sooner after it; the watchdog
			// looks every few milliseconds, and the rest is the margin.
			if took < idleBound*9/10 || took > 2*idleBound {
				t.Errorf("the stream ended %v after its first event, want about the idle bound %v (within %v)", took, idleBound, 2*idleBound)
			}
			if class := ip.row(t); class != "stream_idle" {
				t.Errorf("request log error class %q, want stream_idle", class)
			}
			ip.checkFailure(t)
		})
	}
}

// A backend that pauses between its events, each pause shorter than the
// idle bound but all of them longer, streams to its end: the bound is on
// a silence, not on the stream's length.
func TestStream_PausesUnderIdleBoundPass(t *testing.T) {
	for name, transport := range idleClients {
		t.Run(name, func(t *testing.T) {
			pause := idleBound / 4
			be := sseBackend(t, chunk("a"), pause, chunk("b"), pause, chunk("c"), pause, chunk("d"), pause, chunk("e"), pause, finalChunk, usageChunk, doneEvent)
			ip := newIdleProxy(t, be.URL, transport())
			start := time.Now()
			text, err := reviewStream(t, ip.url)
			if err != nil || text != "abcde" {
				t.Fatalf("the stream gave %q, %v; want \"abcde\" and no error", text, err)
			}
			if took := time.Since(start); took <= idleBound {
				t.Fatalf("the stream took %v, not longer than the idle bound %v: the test shows nothing", took, idleBound)
			}
			if class := ip.row(t); class != "" {
				t.Errorf("request log error class %q, want none", class)
			}
		})
	}
}

// What the user does: asks for a whole (non-streamed) answer from a backend
// that sends its header and the start of its body, then nothing.
// What happened: the client waited for timeouts.request.
// What must happen: a 504 upstream_timeout naming the version and
// timeouts.idle, an idle bound after the header; logged as stream_idle.
func TestAnswer_IdleBodyIsCutOff(t *testing.T) {
	for name, transport := range idleClients {
		t.Run(name, func(t *testing.T) {
			stall := make(chan struct{})
			defer close(stall)
			be := reviewBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n", `{"id":"chatcmpl-1","object":"chat.completion",`, stall)
			ip := newIdleProxy(t, be, transport())
			client := openai.NewClient(option.WithBaseURL(ip.url+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
				Model:    "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
			})
			took := time.Since(start)
			var ae *openai.Error
			if !errors.As(err, &ae) || ae.StatusCode != 504 || ae.Code != "upstream_timeout" || !strings.Contains(ae.Message, "chat:v1") || !strings.Contains(ae.Message, "timeouts.idle") {
				t.Errorf("the client got %v; want a 504 upstream_timeout naming chat:v1 and timeouts.idle", err)
			}
			if took < idleBound || took > 2*idleBound {
				t.Errorf("the answer ended %v after the request, want about the idle bound %v (within %v)", took, idleBound, 2*idleBound)
			}
			if class := ip.row(t); class != "stream_idle" {
				t.Errorf("request log error class %q, want stream_idle", class)
			}
			ip.checkFailure(t)
		})
	}
}

// An answer that passes through as it arrives (speech) and stalls after
// its first bytes ends short for the client at the idle bound, as one the
// backend breaks off does, and is logged as stream_idle.
func TestRawAnswer_IdleBodyIsCutOff(t *testing.T) {
	for name, transport := range idleClients {
		t.Run(name, func(t *testing.T) {
			stall := make(chan struct{})
			defer close(stall)
			be := reviewBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: 1000\r\n\r\n", "ID3 first bytes", stall)
			ip := newIdleProxy(t, be, transport())
			start := time.Now()
			resp, err := http.Post(ip.url+"/v1/audio/speech", "application/json", strings.NewReader(`{"model":"chat","input":"hello","voice":"alloy"}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			took := time.Since(start)
			if resp.StatusCode != 200 || string(body) != "ID3 first bytes" || err == nil {
				t.Errorf("status %d, body %q, read error %v; want the first bytes and an answer that ends short", resp.StatusCode, body, err)
			}
			if took < idleBound || took > 2*idleBound {
				t.Errorf("the answer ended %v after the request, want about the idle bound %v (within %v)", took, idleBound, 2*idleBound)
			}
			if class := ip.row(t); class != "stream_idle" {
				t.Errorf("request log error class %q, want stream_idle", class)
			}
			ip.checkFailure(t)
		})
	}
}

// A client that stops reading for longer than the idle bound, while the
// backend has the rest of a long answer ready, is not taken for a silent
// backend: the relay is blocked writing to the client, not waiting on the
// backend, and the answer reaches the client whole. (A bound on the time
// between two reads of the backend would cut it off and charge the
// version for its client's pace.)
func TestRawAnswer_SlowClientIsNotIdle(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<20) // 16 MiB, more than the sockets hold
	for name, transport := range idleClients {
		t.Run(name, func(t *testing.T) {
			be := reviewBackend(t, "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nContent-Length: "+strconv.Itoa(len(big))+"\r\n\r\n", big)
			ip := newIdleProxy(t, be, transport())
			resp, err := http.Post(ip.url+"/v1/audio/speech", "application/json", strings.NewReader(`{"model":"chat","input":"hello","voice":"alloy"}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			head := make([]byte, 16)
			if _, err := io.ReadFull(resp.Body, head); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * idleBound)
			rest, err := io.ReadAll(resp.Body)
			if err != nil || len(head)+len(rest) != len(big) {
				t.Fatalf("the client got %d of %d bytes, read error %v: the slow client's answer was cut off", len(head)+len(rest), len(big), err)
			}
			if class := ip.row(t); class != "" {
				t.Errorf("request log error class %q, want none", class)
			}
		})
	}
}

// What the user does: streams a stored (background) response by id, GET
// /v1/responses/{id}?stream=true, from a backend that sends one event and
// then nothing, keeping the connection open.
// What happened: the by-id forward was not bounded by timeouts.idle: the
// client was held until timeouts.request, though the README says the
// bound holds for any answer's body once it has begun.
// What must happen: the stream ends at the idle bound with an error event
// naming the version and timeouts.idle.
func TestResponsesByIDStream_IdleBackendIsCutOff(t *testing.T) {
	ip := wedgedByIDProxy(t, "event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":1}\n\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ip.url+"/v1/responses/resp_idle?stream=true", nil)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	took := time.Since(start)
	if took < idleBound || took > 2*idleBound {
		t.Errorf("the stalled by-id stream ended %v after the request, want about the idle bound %v (within %v)", took, idleBound, 2*idleBound)
	}
	if !strings.Contains(string(body), "event: error") || !strings.Contains(string(body), "chat:v1") || !strings.Contains(string(body), "timeouts.idle") {
		t.Errorf("the stalled by-id stream ended with %q; want an error event naming chat:v1 and timeouts.idle", body)
	}
}

// The idle bound starts with the answer, not the request: a whole answer
// whose header comes after twice the bound (but within first_byte), and a
// stream whose first event does, are not cut off. The wait before them is
// timeouts.first_byte's to bound, as before timeouts.idle.
func TestIdle_SlowHeaderIsFirstBytes(t *testing.T) {
	for name, transport := range idleClients {
		t.Run(name, func(t *testing.T) {
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(2 * idleBound)
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`))
			}))
			defer be.Close()
			ip := newIdleProxy(t, be.URL, transport())
			resp, body := send(t, "POST", ip.url+"/v1/chat/completions", `{"model":"chat","messages":[]}`)
			if resp.StatusCode != 200 {
				t.Fatalf("the answer whose header came after %v: %d %s; want it whole (first_byte bounds that wait, not idle)", 2*idleBound, resp.StatusCode, body)
			}
		})
	}
}

func TestIdle_SlowFirstEventIsFirstBytes(t *testing.T) {
	for name, transport := range idleClients {
		t.Run(name, func(t *testing.T) {
			be := sseBackend(t, 2*idleBound, chunk("a"), finalChunk, usageChunk, doneEvent)
			ip := newIdleProxy(t, be.URL, transport())
			text, err := reviewStream(t, ip.url)
			if err != nil || text != "a" {
				t.Fatalf("the stream whose first event came after %v gave %q, %v; want \"a\" and no error", 2*idleBound, text, err)
			}
		})
	}
}

// wedgedByIDProxy is a gateway (newIdleProxy) in front of a backend that
// answers a background POST /v1/responses with resp_idle in progress,
// and GET /v1/responses/resp_idle with an event stream of events (written
// in turn, then flushed) that then sends nothing, its connection open, as
// a wedged worker does, until the test ends. The response was created
// through the gateway.
func wedgedByIDProxy(t *testing.T, events ...string) *idleProxy {
	t.Helper()
	stall := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/responses":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"resp_idle","object":"response","status":"in_progress","output":[]}`)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/responses/resp_idle":
			w.Header().Set("Content-Type", "text/event-stream")
			for _, e := range events {
				io.WriteString(w, e)
			}
			w.(http.Flusher).Flush()
			select { // a wedged worker: the connection stays open
			case <-stall:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(be.Close)
	t.Cleanup(func() { close(stall) })
	ip := newIdleProxy(t, be.URL, nil)
	if resp, body := post(t, ip.url, "/v1/responses", `{"model":"chat","input":"hi","background":true}`); resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	return ip
}
