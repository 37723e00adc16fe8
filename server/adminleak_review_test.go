package server_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestForceTokenNotForwardedToBackend: on a gateway without client
// keys, an operator forces a version with the force header and their
// operator token in Authorization (README: the force header is "honoured
// only for callers presenting an operator or admin token").
// Now: the gateway honours the force and then forwards the request's
// Authorization header, the operator's Sluice admin token, to the model
// backend, so any backend (often a third party's server) learns a
// credential that can change routing on the gateway.
// Should: Sluice's own admin token, once it authenticated the force, is
// removed before the request goes upstream, as client keys are.
func TestForceTokenNotForwardedToBackend(t *testing.T) {
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", "_"), func(t *testing.T) {
			spy := &headerSpy{}
			fb := fakellm.New(fakellm.Config{})
			b1 := httptest.NewServer(spy.wrap(fb.Handler()))
			defer b1.Close()
			b2 := MustBackend(t, fakellm.Config{})
			doc := chatDoc(map[string]string{"v1.0.0": b2.URL(), "v1.1.0": b1.URL}, nil, map[string]string{"stable": "v1.0.0"})
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv }, nil, doc)
			opSecret, err := gw.CreateToken(context.Background(), "olga", sluice.RoleOperator, "test", "setup")
			if err != nil {
				t.Fatal(err)
			}
			resp, e := postRead(t, nil, gw.URL(), `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`,
				map[string]string{"X-Sluice-Version": "v1.1.0", "Authorization": "Bearer " + opSecret})
			if resp.StatusCode != 200 {
				t.Fatalf("forced request: %d %s", resp.StatusCode, e.Error.Message)
			}
			spy.mu.Lock()
			defer spy.mu.Unlock()
			if len(spy.auth) == 0 {
				t.Fatalf("the forced request did not reach the forced version's backend")
			}
			for _, a := range spy.auth {
				if strings.Contains(a, opSecret) {
					t.Fatalf("the backend received the operator's Sluice admin token: Authorization: %q", a)
				}
			}
		})
	}
}
