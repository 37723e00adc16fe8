package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: sends the key without its scheme, Authorization:
// sk-…, as some clients and hand-written curl commands do, or under
// another scheme (Basic).
// What must happen: a 401 saying the header is there but is not a bearer
// token, and what to write, never quoting the secret; counted under
// no_key, as before. It said "this gateway needs an API key", which read
// as if no key had been sent.
func TestKeys_AuthorizationWithoutBearer(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const secret = "sk-web-0123456789abcdef"
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "web", Hash: sluice.HashSecret(secret)}}, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Admit: ks.Admit, ForceAllowed: ks.ForceAllowed})
	srv := httptest.NewServer(ks.Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close() })
	send := func(auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, auth := range []string{secret, "Basic " + secret, "Token " + secret} {
		code, body := send(auth)
		want := "the Authorization header is not a bearer token: send Authorization: Bearer <key>"
		if code != http.StatusUnauthorized || !strings.Contains(body, want) || strings.Contains(body, secret) {
			t.Errorf("Authorization: %s: %d %s; want a 401 saying %q, without the secret", auth, code, body, want)
		}
	}
	if code, body := send(""); code != http.StatusUnauthorized || !strings.Contains(body, "this gateway needs an API key") {
		t.Errorf("no Authorization: %d %s; want the 401 for no key", code, body)
	}
	if code, _ := send("Bearer " + secret); code != http.StatusOK {
		t.Errorf("Authorization: Bearer <key>: %d, want 200", code)
	}
	if got := keyMetrics(t, p); !slices.Contains(got, "sluice_client_key_refused_total{reason=no_key} 4") {
		t.Errorf("refusals on /metrics: %q; want the four counted under no_key", got)
	}
}
