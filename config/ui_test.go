package config

import (
	"strings"
	"testing"
)

func TestParseGateway_UISecureCookie(t *testing.T) {
	t.Run("Default", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("listen: 127.0.0.1:8080\n"))
		if err != nil {
			t.Fatal(err)
		}
		if g.UI.SecureCookie != "auto" {
			t.Errorf("ui.secure_cookie default %q, want auto", g.UI.SecureCookie)
		}
	})
	t.Run("Always", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("ui:\n  secure_cookie: always\n"))
		if err != nil {
			t.Fatal(err)
		}
		if g.UI.SecureCookie != "always" {
			t.Errorf("ui.secure_cookie %q, want always", g.UI.SecureCookie)
		}
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		_, err := ParseGateway("sluice.yaml", []byte("ui:\n  secure_cookie: yes-please\n"))
		if err == nil || !strings.Contains(err.Error(), "ui.secure_cookie") || !strings.Contains(err.Error(), "always") {
			t.Fatalf("err %v, want one naming ui.secure_cookie and its choices", err)
		}
	})
}

func TestParseGateway_UITrustedProxies(t *testing.T) {
	t.Run("DefaultNone", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("listen: 127.0.0.1:8080\n"))
		if err != nil {
			t.Fatal(err)
		}
		if p, err := g.UI.TrustedProxyPrefixes(); err != nil || len(p) != 0 {
			t.Errorf("ui.trusted_proxies default %v (%v), want none", p, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		g, err := ParseGateway("sluice.yaml", []byte("ui:\n  trusted_proxies: [10.0.0.0/8, 127.0.0.1, \"fd00::/8\", \"::ffff:192.168.0.0/112\", 10.1.2.3/16]\n"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := g.UI.TrustedProxyPrefixes()
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"10.0.0.0/8", "127.0.0.1/32", "fd00::/8", "192.168.0.0/16", "10.1.0.0/16"}
		if len(p) != len(want) {
			t.Fatalf("prefixes %v, want %v", p, want)
		}
		for i := range want {
			if p[i].String() != want[i] {
				t.Errorf("ui.trusted_proxies[%d] read as %s, want %s", i, p[i], want[i])
			}
		}
	})
	for _, bad := range []string{"10.0.0.0/33", "lb.internal", "10.0.0.1:80", "fe80::1%eth0", ""} {
		t.Run("Err"+bad, func(t *testing.T) {
			_, err := ParseGateway("sluice.yaml", []byte("ui:\n  trusted_proxies: [127.0.0.1, \""+bad+"\"]\n"))
			if err == nil || !strings.Contains(err.Error(), "ui.trusted_proxies[1]") || !strings.Contains(err.Error(), "10.0.0.0/8") {
				t.Fatalf("err %v, want one naming ui.trusted_proxies[1] and an example", err)
			}
		})
	}
}
