package ui_test

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// clientFrom returns an HTTP client whose connections come from the
// loopback address local, such as 127.0.0.2.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func postLogin(t *testing.T, c *http.Client, base, secret string) *http.Response {
	t.Helper()
	resp, err := c.Post(base+"/ui/login", "application/json", strings.NewReader(`{"token":"`+secret+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestLogin_Throttled checks, against a real gateway, that wrong tokens
// sent to the dashboard's sign-in are answered 429 with Retry-After once
// an address has sent too many, that good sign-ins do not count, that
// X-Forwarded-For does not move a client to another address's allowance,
// and that other addresses still sign in.
func TestLogin_Throttled(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	base := "http://" + g.AdminAddr()
	one := clientFrom("127.0.0.1")
	for i := 0; i < 30; i++ {
		if resp := postLogin(t, one, base, g.viewer); resp.StatusCode != 200 {
			t.Fatalf("good sign-in %d: %d", i, resp.StatusCode)
		}
	}
	for i := 0; i < 10; i++ {
		if resp := postLogin(t, one, base, "wrong-token"); resp.StatusCode != 401 {
			t.Fatalf("wrong token %d after good sign-ins: %d, want 401 (good sign-ins must not count)", i, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", base+"/ui/login", strings.NewReader(`{"token":"wrong-token"}`))
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := one.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Fatalf("11th wrong token (with X-Forwarded-For): %d, want 429", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 3 {
		t.Errorf("Retry-After %q, want 1 to 3 seconds", resp.Header.Get("Retry-After"))
	}
	if resp := postLogin(t, clientFrom("127.0.0.2"), base, g.admin); resp.StatusCode != 200 {
		t.Errorf("good sign-in from another address: %d, want 200", resp.StatusCode)
	}
}

// TestLogin_ThrottledBehindTrustedProxy checks, against a real gateway,
// that clients behind a load balancer named in ui.trusted_proxies are
// throttled each by the address its X-Forwarded-For gives: one client
// sending wrong tokens no longer keeps another out of the sign-in. Without
// the key they share the proxy's address and its allowance.
func TestLogin_ThrottledBehindTrustedProxy(t *testing.T) {
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2})
	lb := clientFrom("127.0.0.1") // the load balancer, as the gateway sees it
	login := func(base, secret, forwardedFor string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/ui/login", strings.NewReader(`{"token":"`+secret+`"}`))
		// What a proxy sends on: the client's forged entry, then the
		// address the proxy was sent from.
		req.Header.Set("X-Forwarded-For", "198.51.100.77, "+forwardedFor)
		resp, err := lb.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		name      string
		trusted   []string
		otherWant int
	}{
		{"Trusted", []string{"10.0.0.0/8", "127.0.0.1"}, 200},
		{"Unset", nil, 429},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := mustGatewayWith(t, stable, cand, func(cfg *config.Gateway) { cfg.UI.TrustedProxies = c.trusted })
			base := "http://" + g.AdminAddr()
			for i := 0; i < 10; i++ {
				if code := login(base, "wrong-token", "203.0.113.1"); code != 401 {
					t.Fatalf("wrong token %d from the first client: %d, want 401", i, code)
				}
			}
			if code := login(base, "wrong-token", "203.0.113.1"); code != 429 {
				t.Fatalf("11th wrong token from the first client: %d, want 429", code)
			}
			if code := login(base, g.viewer, "203.0.113.2"); code != c.otherWant {
				t.Errorf("good sign-in from a second client behind the same proxy: %d, want %d", code, c.otherWant)
			}
		})
	}
}
