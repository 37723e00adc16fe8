package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"

	"github.com/sluicehq/sluice/proxy"
)

// TestBackendHeaderOverridesServedVersion: a user puts Sluice in
// front of backends that label their answers themselves (another Sluice
// tier, or a model server behind a proxy that sets X-Model-Version). The gateway sets X-Model-Version to the version that
// answered, then copies the backend's headers over it, so the client reads
// the backend's value: here "other-model:v9" for an answer served by
// chat:v1, while the request log and the metrics say chat:v1. Expected:
// X-Model-Version, which the gateway owns, names the version that
// answered, whatever the backend sends.
func TestBackendHeaderOverridesServedVersion(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Model-Version", "other-model:v9")
		w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	defer be.Close()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, "")})
	resp, body := chat(t, url, "chat")
	if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" {
		t.Errorf("X-Model-Version = %q for an answer served by chat:v1 (body %s)", v, body)
	}
}

// TestRetryAfterRequestTimeoutBlamesStable: a user sets
// timeouts.request below timeouts.first_byte (30 s for chat answers is
// common; first_byte defaults to 120 s). A canary hangs. Its attempt ends
// when the request's whole time is up, as a "timeout", and the proxy then
// "retries" on stable with that same, already spent, deadline: the stable
// attempt is cut off at once and recorded as a timeout of the stable
// version, OnResult (outlier ejection) is told stable failed, and the
// client's 504 names stable ("the backend for chat:v1 did not answer in
// time"). Five such requests eject the healthy stable version and leave
// the split to the hung canary. Expected: no retry once the request's own
// time is spent (or one that gets time of its own); in no case is the
// stable version charged with a failure it never had a chance to avoid.
func TestRetryAfterRequestTimeoutBlamesStable(t *testing.T) {
	// Stable answers after 300 ms: well within any sane budget, but after
	// the spent deadline is noticed.
	good := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 300, P99MS: 300}}})
	hung := MustBackend(t, fakellm.Config{})
	hung.SetHang(true)
	t.Cleanup(func() { hung.SetHang(false) })

	var mu sync.Mutex
	failedStable := 0
	rec := newSpyRecorder()
	ej := proxy.NewEjector(proxy.EjectOptions{}) // defaults: 5 failures in a row eject
	_, url := MustProxy(t, proxy.Options{
		// All of the split on the candidate v2; v1 is the stable label.
		Routes:         splitRoutes(t, good.URL(), hung.URL(), 0),
		Recorder:       rec,
		RequestTimeout: 500 * time.Millisecond,
		OnResult: func(id string, failed bool) {
			ej.Result(id, failed)
			if id == "chat:v1" && failed {
				mu.Lock()
				failedStable++
				mu.Unlock()
			}
		},
	})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	mu.Lock()
	n := failedStable
	mu.Unlock()
	if n > 0 {
		t.Errorf("outlier ejection was told the stable version chat:v1 failed (%d times); it was only given the hung canary's spent deadline", n)
	}
	for _, o := range rec.all() {
		if o.Version == "v1" && o.ErrorClass != "" {
			t.Errorf("stable v1 recorded with error %q (status %d, latency %v): the failure was the canary's", o.ErrorClass, o.Status, o.Latency)
		}
	}
	if v := resp.Header.Get("X-Model-Version"); resp.StatusCode != 200 && v == "chat:v1" {
		t.Errorf("client got %d naming chat:v1, which never had time to answer: %s", resp.StatusCode, body)
	}
	// Four more such requests: the circuit breaker ejects the healthy
	// stable version.
	for range 4 {
		post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	}
	if why, ok := ej.Reason("chat:v1"); ok {
		t.Errorf("the healthy stable version chat:v1 was ejected (%s) because the canary hung", why)
	}
}

// TestRetryChargesCanaryTimeToStableLatency: a canary answers 500
// after 400 ms; the proxy retries the request on stable, which answers at
// once. The stable version's observation (the one the Recorder's windows,
// the latency histograms and the canary analysis use) is stamped with the
// request's start, so its latency and TTFT include the canary's 400 ms:
// stable looks slow exactly when the canary fails (with a hung canary, by
// the whole first-byte timeout, 120 s by default), which inflates the
// baseline's p50/p95/p99 and TTFT and biases the candidate-vs-baseline
// latency comparison in the candidate's favour. Expected: the stable
// version's recorded latency is that of its own attempt.
func TestRetryChargesCanaryTimeToStableLatency(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	slowBad := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1, Latency: fakellm.Distribution{MedianMS: 400, P99MS: 400}}})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), slowBad.URL(), 0), Recorder: rec})
	resp, body := chat(t, url, "chat")
	if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" {
		t.Fatalf("answered by %q, want the retry on chat:v1: %s", v, body)
	}
	var canary, stable *sluice.Observation
	for _, o := range rec.all() {
		switch o.Version {
		case "v2":
			canary = &o
		case "v1":
			stable = &o
		}
	}
	if canary == nil || stable == nil {
		t.Fatalf("want one observation of each version, got %+v", rec.all())
	}
	if stable.Latency >= 400*time.Millisecond || stable.TTFT >= 400*time.Millisecond {
		t.Errorf("stable v1 recorded with latency %v, TTFT %v: it answered at once; the 400 ms were the failing canary's (canary recorded %v)", stable.Latency, stable.TTFT, canary.Latency)
	}
}
