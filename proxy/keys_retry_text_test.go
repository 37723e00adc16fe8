package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestKeySet_RetryAfterNeverZero: a request refused by its key's rate limit
// less than half a millisecond before a token is due was told "retry after
// 0s" (the wait rounded to the nearest millisecond), which says to retry at
// once; the message rounds up instead.
func TestKeySet_RetryAfterNeverZero(t *testing.T) {
	// 10 requests a second, burst 1: a token every 100 ms.
	send, advance := rateLimitedKey(t, 10)
	if rec := send(); rec.Code != http.StatusOK {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		advance time.Duration
		want    string
	}{
		{99*time.Millisecond + 800*time.Microsecond, "retry after 1ms"}, // 0.2 ms to wait
		{100 * time.Microsecond, "retry after 1ms"},                     // 0.1 ms to wait
	} {
		advance(tc.advance)
		rec := send()
		if rec.Code != http.StatusTooManyRequests {
			t.Fatalf("after %v: status %d, want 429", tc.advance, rec.Code)
		}
		if body := rec.Body.String(); !strings.Contains(body, tc.want) {
			t.Errorf("after %v: %s; want it to say %q", tc.advance, body, tc.want)
		}
		if got := rec.Header().Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1", got)
		}
	}
}

// rateLimitedKey returns send, which sends a request with the key "k"
// (limit requests a second, burst 1) through a key set on a clock that
// stands still, and advance, which moves that clock.
func rateLimitedKey(t *testing.T, limit float64) (send func() *httptest.ResponseRecorder, advance func(time.Duration)) {
	t.Helper()
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance = func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "k", Hash: sluice.HashSecret("secret-k-0123456789"), RateLimit: limit, Burst: 1}}, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	h := ks.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	send = func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		req.Header.Set("Authorization", "Bearer secret-k-0123456789")
		h.ServeHTTP(rec, req)
		return rec
	}
	return send, advance
}
