package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_CustomForceHeaderNotForwarded: a gateway with its own
// force_header honours it, and neither it nor the token that allowed it
// reaches the backend (the default X-Sluice-Version never did; a custom
// one did).
func TestGateway_CustomForceHeaderNotForwarded(t *testing.T) {
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", "_"), func(t *testing.T) {
			var mu sync.Mutex
			var got []http.Header
			fb := fakellm.New(fakellm.Config{})
			b1 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/chat/completions" { // not the health checks
					mu.Lock()
					got = append(got, r.Header.Clone())
					mu.Unlock()
				}
				fb.Handler().ServeHTTP(w, r)
			}))
			defer b1.Close()
			b2 := MustBackend(t, fakellm.Config{})
			doc := chatDoc(map[string]string{"v1.0.0": b2.URL(), "v1.1.0": b1.URL}, nil, map[string]string{"stable": "v1.0.0"})
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv; c.ForceHeader = "X-Pin-Version" }, nil, doc)
			op, err := gw.CreateToken(context.Background(), "olga", sluice.RoleOperator, "test", "setup")
			if err != nil {
				t.Fatal(err)
			}
			resp, _ := postRead(t, nil, gw.URL(), `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
				map[string]string{"X-Pin-Version": "v1.1.0", "Authorization": "Bearer " + op})
			if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1.1.0" {
				t.Fatalf("forced request: %d served by %q", resp.StatusCode, resp.Header.Get("X-Model-Version"))
			}
			mu.Lock()
			defer mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("the forced version's backend got %d requests, want 1", len(got))
			}
			if v := got[0].Get("X-Pin-Version"); v != "" {
				t.Errorf("the backend received the force header: X-Pin-Version: %s", v)
			}
			if v := got[0].Get("Authorization"); v != "" {
				t.Errorf("the backend received the operator's token: %s", v)
			}
		})
	}
}
