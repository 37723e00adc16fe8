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
