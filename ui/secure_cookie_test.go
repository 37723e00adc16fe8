package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// sessionCookie signs in to base with secret, sending hdr, and returns the
// session cookie set on sign-in and the one set on sign-out.
func sessionCookie(t *testing.T, base, secret string, hdr map[string]string) (in, out *http.Cookie) {
	t.Helper()
	b := &browserless{t: t, base: base}
	resp, body := b.do("POST", "/ui/login", `{"token":"`+secret+`"}`, hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == ui.CookieName {
			in = c
		}
	}
	resp, body = b.do("POST", "/ui/logout", "", hdr)
	if resp.StatusCode != 200 {
		t.Fatalf("sign-out: %d %s", resp.StatusCode, body)
	}
	for _, c := range resp.Cookies() {
		if c.Name == ui.CookieName {
			out = c
		}
	}
	if in == nil || out == nil {
		t.Fatalf("no session cookie set: sign-in %v, sign-out %v", in, out)
	}
	return in, out
}

// TestSecureCookie checks ui.secure_cookie over plain HTTP, as a gateway
// behind a load balancer that ends TLS is reached: always marks the cookie
// Secure, auto does not (the gateway saw no TLS), and X-Forwarded-Proto
// from the client changes nothing.
func TestSecureCookie(t *testing.T) {
	for _, c := range []struct {
		setting string
		want    bool
	}{{"always", true}, {"auto", false}, {"never", false}, {"", false}} {
		t.Run("Setting="+c.setting, func(t *testing.T) {
			g := mustGatewayWith(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}), func(cfg *config.Gateway) {
				cfg.UI.SecureCookie = c.setting
			})
			in, out := sessionCookie(t, "http://"+g.AdminAddr(), g.viewer, map[string]string{"X-Forwarded-Proto": "https"})
			if in.Secure != c.want || out.Secure != c.want {
				t.Errorf("secure_cookie %q: Secure on sign-in %v, on sign-out %v; want %v", c.setting, in.Secure, out.Secure, c.want)
			}
			if !in.HttpOnly || in.SameSite != http.SameSiteStrictMode || !strings.HasPrefix(in.Path, "/ui") {
				t.Errorf("cookie %+v lost HttpOnly, SameSite=Strict or its /ui path", in)
			}
		})
	}
}
