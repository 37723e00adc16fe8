package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestSignIn_ExpiredTokenSaysSo: pasting an admin token that has expired
// says it expired and to ask an admin for a new one, as the API and CLI
// say; the sign-in page said "this token is not known", sending its holder
// to check a token that is right.
func TestSignIn_ExpiredTokenSaysSo(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	admin := &api.Client{BaseURL: g.AdminURL(), Token: g.admin}
	ctx := context.Background()
	created, err := admin.CreateTokenWith(ctx, api.TokenRequest{Name: "contractor", Role: sluice.RoleOperator, ExpiresAt: time.Now().Add(time.Second), Reason: "a week's help"})
	if err != nil {
		t.Fatal(err)
	}
	b := &browserless{t: t, base: g.AdminURL()}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, body := b.do("POST", "/ui/login", `{"token":"`+created.Secret+`"}`, nil)
		if resp.StatusCode == http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatal("the token never expired")
			}
			continue
		}
		msg := string(body)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(msg, "token contractor expired at") || !strings.Contains(msg, "ask an admin for a new one") {
			t.Errorf("sign-in with an expired token: %d %s; want 401 saying it expired", resp.StatusCode, msg)
		}
		if strings.Contains(msg, created.Secret) {
			t.Errorf("the answer echoes the secret: %s", msg)
		}
		break
	}
}
