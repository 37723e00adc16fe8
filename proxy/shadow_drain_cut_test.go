package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_DrainCutNotMirrored: a request the shutdown's drain cut off
// (its context ended with proxy.ErrDrainCut) is not mirrored, as one its
// client gave up on is not: no whole live answer to compare, and a mirror
// queued then goes to the candidate of a gateway that is stopping. It was
// queued, as drain_cut was not canceled. An answered request still is.
func TestProxy_DrainCutNotMirrored(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	p, _ := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL())})
	p.SetShadow("chat", "chat:v2", 1)
	serve := func(ctx context.Context, slow bool) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		if slow {
			req.Header.Set(fakellm.HeaderLatency, "10000")
		}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		return rec
	}
	if rec := serve(context.Background(), false); rec.Code != 200 {
		t.Fatalf("an answered request: %d %s", rec.Code, rec.Body)
	}
	if s := p.ShadowStats(); s.Mirrored != 1 {
		t.Fatalf("an answered request: %d mirrored, want 1", s.Mirrored)
	}

	ctx, cut := context.WithCancelCause(context.Background())
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- serve(ctx, true) }()
	waitFor(t, "the slow request in flight", func() bool { return p.InFlight("chat:v1") == 1 })
	cut(proxy.ErrDrainCut)
	select {
	case rec := <-done:
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "shut down") {
			t.Errorf("the cut request: %d %s, want 503 saying the gateway shut down", rec.Code, rec.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cut request still runs 5 s after the cut")
	}
	if s := p.ShadowStats(); s.Mirrored != 1 || s.Dropped != 0 {
		t.Errorf("after a drain_cut request: %+v, want it not mirrored (1 mirrored, the answered one)", s)
	}
}
