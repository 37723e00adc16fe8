package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// TestRetryLatencyNotChargedToStable: a canary (v2) takes all of the
// split and fails slowly (a 503 after 1.5 s); the proxy retries on stable
// (v1), which answers at once. Now the observation recorded for v1 (route
// "retry", a success) carries a latency measured from the client's arrival,
// so v1's latency window, the baseline the canary analysis compares the
// candidate with, holds 1.5 s that the candidate spent failing: a failing
// candidate makes the baseline look slow, biasing the latency comparison in
// the candidate's favour. v1's latency sample should measure v1's own
// attempt (a few ms here), or leave such retries out.
func TestRetryLatencyNotChargedToStable(t *testing.T) {
	const candidateDelay = 1500 * time.Millisecond
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(candidateDelay)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		io.WriteString(w, `{"error":{"message":"overloaded"}}`)
	}))
	t.Cleanup(bad.Close)
	good := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad.URL, 0), Recorder: rec})

	resp, body := chat(t, url, "chat")
	if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" {
		t.Fatalf("answered by %q, want the retry on chat:v1; body %s", v, body)
	}
	var retry *sluice.Observation
	for _, o := range rec.all() {
		if o.Version == "v1" {
			o := o
			retry = &o
		}
	}
	if retry == nil || retry.Route != "retry" {
		t.Fatalf("no retry observation of v1: %+v", rec.all())
	}
	s := rec.Window("chat", "v1", "", time.Time{})
	if len(s.Latency) != 1 {
		t.Fatalf("v1 latency sample %v, want one value", s.Latency)
	}
	if got := time.Duration(s.Latency[0] * float64(time.Millisecond)); got >= candidateDelay/2 {
		t.Errorf("stable v1 answered at once, but its latency sample (the analysis baseline) holds %v: the %v the candidate v2 spent failing is charged to v1 (observation latency %v, route %q)",
			got, candidateDelay, retry.Latency, retry.Route)
	}
}

// TestStreamIncludeUsageFalseStillMeasuresTokens: a client streams
// with "stream_options":{"include_usage":false} (the OpenAI SDKs send this
// when a caller turns usage off explicitly). The proxy means to ask the
// backend for the usage chunk anyway and strip it, but it prepends
// include_usage:true to the client's object, sending
// {"include_usage":true,"include_usage":false}: a JSON parser (Python's,
// Go's) keeps the last key, so the backend sends no usage and the
// observation records 0 output tokens for an answer of 5 tokens. Every
// such request drags the version's output_tokens down (the canary's
// output_tokens comparison and gen_ai_client_token_usage). The backend
// should be asked for usage (include_usage true as parsed), the tokens
// recorded, and the usage chunk still hidden from this client.
func TestStreamIncludeUsageFalseStillMeasuresTokens(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			StreamOptions struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for _, tok := range []string{"a", "b", "c", "d", "e"} {
			io.WriteString(w, chunk(tok))
		}
		io.WriteString(w, finalChunk)
		if req.StreamOptions.IncludeUsage {
			io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}`+"\n\n")
		}
		io.WriteString(w, doneEvent)
	}))
	t.Cleanup(backend.Close)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL, ""), Recorder: rec})

	for _, opts := range []string{`{"include_usage":false}`, `{}`} {
		t.Run(opts, func(t *testing.T) {
			n := len(rec.all())
			resp, body := post(t, url, "/v1/chat/completions",
				`{"model":"chat","stream":true,"stream_options":`+opts+`,"messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if strings.Contains(body, `"usage":{`) {
				t.Errorf("the client did not ask for usage but got the usage chunk: %s", body)
			}
			obs := rec.all()
			if len(obs) != n+1 {
				t.Fatalf("%d observations, want %d", len(obs), n+1)
			}
			if o := obs[n]; o.OutputTokens != 5 || o.InputTokens != 3 {
				t.Errorf("stream_options %s: observation has input %d, output %d tokens; the backend would have reported 3 and 5 had the proxy asked it (include_usage) as it does for other streams",
					opts, o.InputTokens, o.OutputTokens)
			}
		})
	}
}

// TestSlowRequestBodyNotInLatency: a client on a slow link sends a
// streamed chat request whose body takes 1.5 s to arrive; the backend
// answers at once. Now the observation's TTFT and latency start when the
// request's headers arrived, before the body was read, so the version is
// charged 1.5 s it had nothing to do with (its TTFT p50 and latency
// quantiles in the canary analysis, gen_ai_server_time_to_first_token).
// A non-streamed request served by the fasthttp front has its body read
// before the proxy sees it, so the same client is measured differently by
// kind of request. The clock should start once the body is read (when the
// backend can be asked), as nginx's upstream_response_time does.
func TestSlowRequestBodyNotInLatency(t *testing.T) {
	const bodyDelay = 1500 * time.Millisecond
	backend := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL(), ""), Recorder: rec})

	body := `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hello there"}]}`
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(body[:10]))
		time.Sleep(bodyDelay)
		pw.Write([]byte(body[10:]))
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	obs := rec.all()
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1", len(obs))
	}
	if o := obs[0]; o.TTFT >= bodyDelay || o.Latency >= bodyDelay {
		t.Errorf("backend answered at once, but the observation has TTFT %v and latency %v: the %v the client took to send its body is charged to the version",
			o.TTFT, o.Latency, bodyDelay)
	}
}

// TestToolCallAnswerNotScoredEmpty: an agent sends a chat request
// with tools and the model answers, as it should, with a tool call
// (message.content null, tool_calls set, finish_reason "tool_calls"),
// streamed or not. Now HeuristicScore sees ResponseChars 0 and records a
// quality score of 0, as for an empty answer or a refusal: a candidate that
// calls tools where the baseline answered in text (or simply serves more
// agent traffic) has its mean quality dragged down and fails the canary's
// quality comparison (threshold 0.05) for doing its job. A complete tool
// call is not an empty answer: it should score 1 (or not be scored by the
// text heuristic at all), never 0.
func TestToolCallAnswerNotScoredEmpty(t *testing.T) {
	const toolCalls = `"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]`
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":null,`+toolCalls+`},"finish_reason":null}]}`+"\n\n")
			io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`+"\n\n")
			io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":18,"total_tokens":58}}`+"\n\n")
			io.WriteString(w, doneEvent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,`+toolCalls+`},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":40,"completion_tokens":18,"total_tokens":58}}`)
	}))
	t.Cleanup(backend.Close)
	rec := observe.New(observe.Options{})
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL, ""), Recorder: rec, Refusal: observe.NewRefusalDetector(nil)})

	tools := `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]`
	for _, stream := range []string{"false", "true"} {
		cat := "stream-" + stream
		resp, body := post(t, url, "/v1/chat/completions",
			`{"model":"chat","stream":`+stream+`,`+tools+`,"messages":[{"role":"user","content":"weather in Paris?"}]}`, "X-Request-Category", cat)
		if resp.StatusCode != 200 || !strings.Contains(body, "get_weather") {
			t.Fatalf("stream %s: status %d: %s", stream, resp.StatusCode, body)
		}
		w := rec.Window("chat", "v1", cat, time.Time{})
		if got := w.QualityBySource["heuristic"]; slices.Contains(got, 0) {
			t.Errorf("stream %s: a complete tool call (finish_reason tool_calls, 18 output tokens) got heuristic quality %v, the score of an empty answer or a refusal", stream, got)
		}
	}
}

// TestTTFTIsFirstContentNotFirstEvent: the backend (Azure OpenAI
// does this) sends at once an event without generated text: a
// prompt-filter event with no choices, then a role-only delta with empty
// content, and the first token only after 1 s of prefill. Now TTFT is
// stamped at the first "data:" event of any kind, so the observation says
// TTFT ≈ 0 for a first token that took a second: the canary's ttft metric
// and gen_ai_server_time_to_first_token_seconds ("to its first content
// chunk") say nothing about prefill for such backends, and a candidate with
// a much slower prefill passes. TTFT should be the arrival of the first
// chunk that carries generated content.
func TestTTFTIsFirstContentNotFirstEvent(t *testing.T) {
	const prefill = time.Second
	backend := sseBackend(t,
		`data: {"id":"","object":"","created":0,"model":"","choices":[],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}`+"\n\n",
		`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`+"\n\n",
		prefill,
		chunk("Hello"), chunk(" world"), finalChunk, usageChunk, doneEvent,
	)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL, ""), Recorder: rec})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || !strings.Contains(body, "world") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	obs := rec.all()
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1", len(obs))
	}
	if o := obs[0]; o.TTFT < prefill {
		t.Errorf("the first token came %v after the request, but the observation's TTFT is %v (latency %v): TTFT was stamped at an event with no generated text",
			prefill, o.TTFT, o.Latency)
	}
}

// TestRedirectFromBackendIsNotSuccess: a candidate's endpoint is
// misconfigured (an ingress that redirects http to https, or to a login
// page) and answers every POST /v1/chat/completions with a 308 redirect.
// The proxy never follows redirects, so no answer was produced; yet the
// observation has no error class: the version's window counts it as a
// success (Succeeded, not Errors), its latency (a millisecond) enters the
// latency sample and makes the broken candidate look fast, the outlier
// ejector is told it succeeded, and the split request is not retried on
// stable (the client gets the redirect to the backend's internal address).
// A 3xx from an inference backend should count as a failure of the version.
func TestRedirectFromBackendIsNotSuccess(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "https://internal-ingress.example:8443"+r.URL.Path, http.StatusPermanentRedirect)
	}))
	t.Cleanup(backend.Close)
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, backend.URL, ""), Recorder: rec, NoRetry: true})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	obs := rec.all()
	if len(obs) != 1 {
		t.Fatalf("%d observations, want 1", len(obs))
	}
	s := rec.Window("chat", "v1", "", time.Time{})
	if o := obs[0]; !o.Failed() || s.Errors != 1 {
		t.Errorf("backend answered %d (a redirect, no completion), client got %d; observation error class %q, window: %d succeeded, %d errors, latency sample %v: counted as a successful answer",
			o.Status, resp.StatusCode, o.ErrorClass, s.Succeeded, s.Errors, s.Latency)
	}
}
