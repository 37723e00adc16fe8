package proxy_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// TestProxy_ShouldRetry: the OpenAI SDKs retry every 503 twice on their own
// (Node, Python, Go), unless the answer says X-Should-Retry: false. A 503
// that only an operator can end (the model's policy is off, or names
// nothing that can serve) says so, and the SDK gives up at once instead of
// sending the request three times over a second and a half; the 503 of a
// gateway whose routing is not loaded yet, which a retry a moment later
// gets past, does not.
func TestProxy_ShouldRetry(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{b.URL()}, UpstreamModel: "up-v1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicyOff}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	_, off := MustProxy(t, proxy.Options{Routes: route.NewHolder(route.Build(e.Registry(), nil, route.NewOptions()))})
	_, unloaded := MustProxy(t, proxy.Options{Routes: route.NewHolder(nil)})
	for _, tc := range []struct {
		name, url, model, want string
		status                 int
	}{
		{"policy off", off, "chat", "false", 503},
		{"pinned under policy off", off, "chat:v1", "", 200},
		{"routing not loaded", unloaded, "chat", "", 503},
	} {
		resp, body := post(t, tc.url, "/v1/chat/completions", `{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
		if got := resp.Header.Get("X-Should-Retry"); got != tc.want {
			t.Errorf("%s: X-Should-Retry %q, want %q (%s)", tc.name, got, tc.want, body)
		}
	}
}

// TestKeySet_RetryAfterMs: a key over its rate limit gets Retry-After in
// whole seconds (at least 1) and Retry-After-Ms, the wait to the
// millisecond, rounded up, which the OpenAI SDKs read first: a key allowed
// 20 requests a second waited a whole second for a token due in 50 ms.
func TestKeySet_RetryAfterMs(t *testing.T) {
	// 20 requests a second, burst 1: a token every 50 ms.
	send, advance := rateLimitedKey(t, 20)
	if rec := send(); rec.Code != http.StatusOK {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		advance time.Duration
		wantMs  int
	}{
		{0, 50},
		{30 * time.Millisecond, 20},
		{19*time.Millisecond + 800*time.Microsecond, 1}, // 0.2 ms to wait
	} {
		advance(tc.advance)
		rec := send()
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("after %v: status %d, want 429", tc.advance, rec.Code)
		}
		if got := rec.Header().Get("Retry-After-Ms"); got != strconv.Itoa(tc.wantMs) {
			t.Errorf("after %v: Retry-After-Ms %q, want %d", tc.advance, got, tc.wantMs)
		}
		if got := rec.Header().Get("Retry-After"); got != "1" {
			t.Errorf("after %v: Retry-After %q, want 1", tc.advance, got)
		}
	}
}
