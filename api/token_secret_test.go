package api_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/sqlite"
)

// tokensDown is a store whose Tokens fails while down is set, and which
// goes down right after a token is stored: the store failing between the
// write and the gateway's reload.
type tokensDown struct {
	sluice.Store
	down atomic.Bool
}

func (s *tokensDown) PutToken(ctx context.Context, t sluice.Token, a sluice.AuditEntry) error {
	err := s.Store.PutToken(ctx, t, a)
	s.down.Store(true)
	return err
}

func (s *tokensDown) Tokens(ctx context.Context) ([]sluice.Token, error) {
	if s.down.Load() {
		return nil, errors.New("store unreachable")
	}
	return s.Store.Tokens(ctx)
}

// A token stored while the gateway cannot read its tokens back is still
// answered with its secret (201 and a warning): the answer was a 503 and
// the stored token's secret was lost for good.
func TestCreateToken_SecretNotLostWhenReloadFails(t *testing.T) {
	ctx := context.Background()
	sq, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	st := &tokensDown{Store: sq}
	ctl, err := control.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := api.NewAuth(st, []sluice.Token{{Name: "ada", Role: sluice.RoleAdmin, Hash: sluice.HashSecret(adminSecret)}})
	hs := httptest.NewServer(api.New(api.Options{Control: ctl, Auth: auth}).Handler())
	defer hs.Close()
	cl := &api.Client{BaseURL: hs.URL, Token: adminSecret, HTTP: hs.Client()}
	created, err := cl.CreateToken(ctx, "ci", sluice.RoleViewer, "ci")
	if err != nil || created.Secret == "" || created.Warning == "" {
		t.Fatalf("create while tokens cannot be reloaded: %+v, %v; want the secret and a warning", created, err)
	}
	st.down.Store(false)
	if err := auth.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, err := auth.AuthenticateSecret(ctx, created.Secret); err != nil || tok.Name != "ci" {
		t.Errorf("the secret shown: %+v, %v; want token ci", tok, err)
	}
}
