package api_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/sqlite"
)

// SetStatic (SIGHUP) replaces the config file's tokens: a removed one stops
// working at once. Removing the last one while the store holds none is
// refused and changes nothing: no one could administer the gateway.
func TestAuth_SetStatic(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok := func(name string) sluice.Token {
		return sluice.Token{Name: name, Role: sluice.RoleAdmin, Hash: sluice.HashSecret(name + "-secret")}
	}
	auth := api.NewAuth(st, []sluice.Token{tok("keep"), tok("leaked")})
	if err := auth.SetStatic(ctx, []sluice.Token{tok("keep")}); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.AuthenticateSecret(ctx, "leaked-secret"); sluice.ErrorCode(err) != sluice.CodeUnauthorized {
		t.Errorf("the removed token: %v, want unauthorized", err)
	}
	if got, err := auth.AuthenticateSecret(ctx, "keep-secret"); err != nil || got.Name != "keep" {
		t.Errorf("the kept token: %+v, %v", got, err)
	}
	if err := auth.SetStatic(ctx, nil); sluice.ErrorCode(err) != sluice.CodeInvalid {
		t.Errorf("removing the last token with none in the store: %v, want refused", err)
	}
	if got, err := auth.AuthenticateSecret(ctx, "keep-secret"); err != nil || got.Name != "keep" {
		t.Errorf("after the refused change the kept token: %+v, %v", got, err)
	}
}
