package proxy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// eventBackend answers every request 200 as an event stream whose first
// event is ev (then, as vLLM does, [DONE]), and counts them.
func eventBackend(tb testing.TB, ev string) (string, *atomic.Int64) {
	tb.Helper()
	body := ev + "\n\n"
	if !strings.Contains(ev, `"type":"error"`) {
		body += "data: [DONE]\n\n"
	}
	return fixedBackend(tb, "text/event-stream", body)
}

// fixedBackend answers every request 200 with body of type ct, and counts
// them.
func fixedBackend(tb testing.TB, ct, body string) (string, *atomic.Int64) {
	tb.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(200)
		w.Write([]byte(body))
	}))
	tb.Cleanup(srv.Close)
	return srv.URL, &n
}

// What the user does: runs a canary whose backend answers a stream 200
// and then, before any content, an error event saying it is overloaded or
// rate limited (TGI's semaphore refusal, an error event carrying 429 as
// vLLM's carry their status, OpenAI's rate_limit_exceeded), and sends
// streamed chat requests the split routes to it, and pinned ones.
// What happened: the attempt was upstream_5xx: counted by outlier
// ejection as the version's failure, and a pinned client got a 502.
// What must happen: it is upstream_overloaded with a 429, as the refusal
// before the stream would have been: the routed request is retried on
// stable and answered; outlier ejection counts it neither way; a pinned
// client gets a 429 naming the version with the backend's message. An
// error event whose code is 503 (a stream gives no Retry-After) stays
// upstream_5xx, as a 503 without one does.
func TestOverloadedStreamEventRetriedOnStable(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	cases := []struct {
		name, ev, class, msg string
	}{
		{"TGI", `data:{"error":"Model is overloaded","error_type":"overloaded"}`, sluice.ClassOverloaded, "Model is overloaded"},
		{"vLLMCode429", `data: {"error":{"object":"error","message":"too many requests in the queue","type":"TooManyRequests","param":null,"code":429}}`, sluice.ClassOverloaded, "too many requests in the queue"},
		{"OpenAIRateLimit", `data: {"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, sluice.ClassOverloaded, "Rate limit reached"},
		{"NamedErrorEvent", "event: error\ndata: {\"error\":{\"message\":\"busy\",\"type\":\"overloaded_error\"}}", sluice.ClassOverloaded, "busy"},
		{"vLLMCode503", `data: {"error":{"object":"error","message":"engine is sleeping","type":"ServiceUnavailableError","param":null,"code":503}}`, "upstream_5xx", "engine is sleeping"},
		{"TGIGeneration", `data:{"error":"Request failed during generation: CUDA OOM","error_type":"generation"}`, "upstream_5xx", "CUDA OOM"},
	}
	for _, tr := range transports {
		for _, tc := range cases {
			t.Run(tr.name+"/"+tc.name, func(t *testing.T) {
				bad, hits := eventBackend(t, tc.ev)
				checkOverloadedAttempt(t, tr.rt, good.URL(), bad, hits, tc.class, tc.msg, true)
			})
		}
	}
}

// checkOverloadedAttempt sends, through a split of stable (good) and a
// candidate whose backend is bad, a routed chat request and a pinned one,
// streamed or whole, and checks what a refusal for load (class
// upstream_overloaded) or the version's failure (upstream_5xx) after the
// backend's 200 must give: the routed request answered by stable, the
// candidate's row of that class retried, outlier ejection counting only
// the failure, and the pinned client a 429 (with Retry-After: 1) or 502
// naming the version with the backend's message msg.
func checkOverloadedAttempt(t *testing.T, rt http.RoundTripper, good, bad string, hits *atomic.Int64, class, msg string, stream bool) {
	t.Helper()
	log, res := &spyLog{}, newResults()
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good, bad, 0), Log: log, OnResult: res.on, Transport: rt})
	client := chatClient(url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(model string, hr **http.Response) (string, error) {
		if !stream {
			c, err := client.Chat.Completions.New(ctx, hi(model), option.WithResponseInto(hr))
			if err != nil || len(c.Choices) == 0 {
				return "", err
			}
			return c.Choices[0].Message.Content, nil
		}
		return streamChat(ctx, client, model, option.WithResponseInto(hr))
	}

	var hr *http.Response
	if text, err := send("chat", &hr); err != nil || text == "" || hr.Header.Get("X-Model-Version") != "chat:v1" {
		t.Fatalf("routed: %v (%q), want stable's answer", err, text)
	}
	waitFor(t, "two rows", func() bool { return len(log.all()) == 2 })
	o := log.all()[0]
	wantStatus := 429
	if class != sluice.ClassOverloaded {
		wantStatus = 502
	}
	if o.Version != "v2" || o.ErrorClass != class || o.Status != wantStatus || !o.Retried {
		t.Errorf("canary's row %+v, want v2 %d %s retried", o, wantStatus, class)
	}
	f, _ := res.get("chat:v2")
	if wantF := map[bool]int{true: 0, false: 1}[class == sluice.ClassOverloaded]; f != wantF {
		t.Errorf("outlier ejection saw %d failures of chat:v2, want %d", f, wantF)
	}

	// Pinned: the version's own refusal, as a status error.
	hr = nil
	_, err := send("chat:v2", &hr)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != wantStatus || !strings.Contains(ae.Message, msg) || !strings.Contains(ae.Message, "chat:v2") {
		t.Errorf("pinned: %v, want a %d naming chat:v2 with %q", err, wantStatus, msg)
	}
	if class == sluice.ClassOverloaded && (hr == nil || hr.Header.Get("Retry-After") != "1") {
		t.Errorf("pinned 429 without Retry-After: 1")
	}
	if hits.Load() != 2 {
		t.Errorf("the canary's backend got %d requests, want 2", hits.Load())
	}
}

// streamChat streams a chat completion of model "hi" and returns its
// text and the stream's error.
func streamChat(ctx context.Context, client openai.Client, model string, opts ...option.RequestOption) (string, error) {
	s := client.Chat.Completions.NewStreaming(ctx, hi(model), opts...)
	var text string
	for s.Next() {
		if ch := s.Current(); len(ch.Choices) > 0 {
			text += ch.Choices[0].Delta.Content
		}
	}
	return text, s.Err()
}

// A Responses stream whose first event of the answer is an error event
// saying rate limited is a refusal for load too.
func TestOverloadedResponsesEvent(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	bad, _ := eventBackend(t, `data: {"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null,"sequence_number":0}`)
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Log: log})
	resp, body := post(t, url, "/v1/responses", `{"model":"chat","stream":true,"input":"hi"}`)
	if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1" {
		t.Fatalf("status %d from %q, want stable's stream: %s", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
	}
	waitFor(t, "two rows", func() bool { return len(log.all()) == 2 })
	if o := log.all()[0]; o.ErrorClass != sluice.ClassOverloaded || o.Status != 429 || !o.Retried {
		t.Errorf("canary's row %+v, want 429 %s retried", o, sluice.ClassOverloaded)
	}
}

// What the user does: plays a canary that refuses for load inside its
// streams with sluice fakellm (stream_error_rate 1, stream_error_type
// overloaded: TGI's event) and streams through the split.
// What must happen: each stream is answered by stable; the canary's
// attempts are upstream_overloaded, 429, retried.
func TestOverloadedStreamEvent_Fakellm(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	busy := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{StreamErrorRate: 1, StreamErrorType: fakellm.StreamErrorOverloaded}})
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), busy.URL(), 0), Log: log})
	client := chatClient(url)
	for i := range 3 {
		if text, err := streamChat(context.Background(), client, "chat"); err != nil || text == "" {
			t.Fatalf("stream %d: %v (%q), want stable's answer", i, err, text)
		}
	}
	waitFor(t, "six rows", func() bool { return len(log.all()) == 6 })
	for _, o := range log.all() {
		if o.Version == "v2" && (o.ErrorClass != sluice.ClassOverloaded || o.Status != 429 || !o.Retried) {
			t.Errorf("canary's row %+v, want 429 %s retried", o, sluice.ClassOverloaded)
		}
	}
}

// What the user does: streams from a version whose backend refuses for
// load inside its stream (TGI's event after its 200), pinned to it, or
// routed by the split when the retry budget has no retry left.
// What happened: the client got the gateway's 429 with no Retry-After,
// where every other 429 it sends (a key's limits, the feedback cap) and a
// backend's own refusal before its stream carry one.
// What must happen: the 429 carries Retry-After (and Retry-After-Ms, which
// the OpenAI SDKs read first), so a client waits before it sends again.
func TestOverloadedStreamEvent_RetryAfter(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	bad, _ := eventBackend(t, `data:{"error":"Model is overloaded","error_type":"overloaded"}`)
	for _, tc := range []struct{ name, model string }{{"Pinned", "chat:v2"}, {"RoutedPastTheBudget", "chat"}} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), RetryBudget: &proxy.RetryBudget{}})
			var hr *http.Response
			client := chatClient(url)
			s := client.Chat.Completions.NewStreaming(context.Background(), hi(tc.model), option.WithResponseInto(&hr))
			for s.Next() {
			}
			var ae *openai.Error
			if err := s.Err(); !errors.As(err, &ae) || ae.StatusCode != 429 {
				t.Fatalf("%v, want the version's 429", s.Err())
			}
			if hr == nil {
				t.Fatal("no response recorded")
			}
			if ra, ms := hr.Header.Get("Retry-After"), hr.Header.Get("Retry-After-Ms"); ra != "1" || ms != "1000" {
				t.Errorf("Retry-After %q, Retry-After-Ms %q; want 1 and 1000", ra, ms)
			}
		})
	}
}
