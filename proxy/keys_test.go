package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

func TestKeySet_RateLimit(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "k", Hash: sluice.HashSecret("secret-k-0123456789"), RateLimit: 10, Burst: 5}}, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	h := ks.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ok.Add(1) }))
	send := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		req.Header.Set("Authorization", "Bearer secret-k-0123456789")
		h.ServeHTTP(rec, req)
		return rec
	}
	t.Run("Burst", func(t *testing.T) {
		// 100 requests at once from 10 goroutines: exactly the burst pass.
		var wg sync.WaitGroup
		for g := 0; g < 10; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					send()
				}
			}()
		}
		wg.Wait()
		if n := ok.Load(); n != 5 {
			t.Fatalf("%d requests passed at once, want the burst of 5", n)
		}
		rec := send()
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("over the limit: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
		}
	})
	t.Run("Rate", func(t *testing.T) {
		// 10 per second: one every 100 ms over 10 s passes, whatever the
		// burst left.
		ok.Store(0)
		for i := 0; i < 100; i++ {
			advance(100 * time.Millisecond)
			if rec := send(); rec.Code != 200 {
				t.Fatalf("request %d at the rate: %d", i, rec.Code)
			}
		}
		// Twice the rate: half pass.
		ok.Store(0)
		for i := 0; i < 100; i++ {
			advance(50 * time.Millisecond)
			send()
		}
		if n := ok.Load(); n < 50 || n > 56 {
			t.Errorf("%d of 100 passed at twice the rate, want about 50 (+ the burst)", n)
		}
	})
	t.Run("BadHash", func(t *testing.T) {
		if _, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "k", Hash: "abc"}}, nil, nil); err == nil {
			t.Error("a short hash was accepted")
		}
	})
}

// BenchmarkKeySet_Wrap is what a key costs a data plane request: hashing
// the secret, the lookup, the bucket and the caller in the context.
func BenchmarkKeySet_Wrap(b *testing.B) {
	var keys []proxy.ClientKey
	for i := 0; i < 1000; i++ {
		keys = append(keys, proxy.ClientKey{Name: "k", Hash: sluice.HashSecret("secret-" + string(rune(i))), RateLimit: 1e9})
	}
	keys = append(keys, proxy.ClientKey{Name: "mine", Hash: sluice.HashSecret("sk-bench-0123456789abcdef"), RateLimit: 1e9, Models: []string{"chat"}})
	ks, err := proxy.NewKeySet(keys, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	h := ks.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := ks.Admit(r, "chat"); err != nil {
			b.Fatal(err)
		}
	}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		w := httptest.NewRecorder()
		auth := []string{"Bearer sk-bench-0123456789abcdef"}
		for pb.Next() {
			req.Header["Authorization"] = auth
			h.ServeHTTP(w, req)
		}
	})
}
