package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// send sends a request with secret through ks and returns the answer.
func sendKey(ks *proxy.KeySet, secret string) *httptest.ResponseRecorder {
	h := ks.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	// An inference request (its handler does nothing): /v1/models
	// spends no rate limit.
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	h.ServeHTTP(rec, req)
	return rec
}

func TestKeySet_Expiry(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	const secret = "sk-sluice-brief-0123456789"
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "brief", Hash: sluice.HashSecret(secret), ExpiresAt: now.Add(time.Hour)}}, nil, clock)
	if err != nil {
		t.Fatal(err)
	}
	if rec := sendKey(ks, secret); rec.Code != 200 {
		t.Fatalf("before its expiry: %d", rec.Code)
	}
	now = now.Add(time.Hour)
	rec := sendKey(ks, secret)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "API key brief expired at 2026-11-20T10:00:00Z") || strings.Contains(rec.Body.String(), secret) {
		t.Fatalf("at its expiry: %d %s, want 401 naming the key and when", rec.Code, rec.Body)
	}
}

func TestKeySet_Revoked(t *testing.T) {
	const secret = "sk-sluice-gone-0123456789"
	ks, err := proxy.NewKeySet(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks.SetRevoked(map[string]string{sluice.HashSecret(secret): "team-c"})
	rec := sendKey(ks, secret)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "API key team-c was revoked") || strings.Contains(rec.Body.String(), secret) {
		t.Fatalf("revoked: %d %s, want 401 naming the key as revoked", rec.Code, rec.Body)
	}
	if rec := sendKey(ks, "sk-other-0123456789"); rec.Code != 401 || !strings.Contains(rec.Body.String(), "not known") {
		t.Fatalf("another secret: %d %s, want 401 not known", rec.Code, rec.Body)
	}
}

func TestKeySet_Miss(t *testing.T) {
	const secret = "sk-sluice-new-0123456789"
	old, err := proxy.NewKeySet(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "new", Hash: sluice.HashSecret(secret)}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		reads := 0
		old.SetMiss(func(context.Context) (*proxy.KeySet, error) { reads++; return fresh, nil })
		if rec := sendKey(old, secret); rec.Code != 200 || reads != 1 {
			t.Fatalf("a key the fresh read holds: %d after %d reads, want 200 after 1", rec.Code, reads)
		}
		if rec := sendKey(old, "sk-unknown-0123456789"); rec.Code != 401 {
			t.Fatalf("a secret the fresh read lacks: %d, want 401", rec.Code)
		}
	})
	t.Run("NoRead", func(t *testing.T) {
		old.SetMiss(func(context.Context) (*proxy.KeySet, error) { return nil, nil })
		if rec := sendKey(old, secret); rec.Code != 401 {
			t.Fatalf("no read made: %d, want 401", rec.Code)
		}
	})
	t.Run("StoreDown", func(t *testing.T) {
		old.SetMiss(func(context.Context) (*proxy.KeySet, error) {
			return nil, sluice.Errorf(sluice.CodeUnavailable, "cannot check the API key")
		})
		if rec := sendKey(old, secret); rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("store down: %d, want 503 with Retry-After", rec.Code)
		}
	})
}
