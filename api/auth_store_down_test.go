package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/sqlite"
)

// cancelAware is a store whose Tokens fails, as a store does, when its
// context has ended.
type cancelAware struct{ sluice.Store }

func (s cancelAware) Tokens(ctx context.Context) ([]sluice.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.Store.Tokens(ctx)
}

// TestAuth_StoreDownThenUnknown: a secret not among the tokens read is a
// 401 "not known" while the store answers, and a 503 "the token store is
// unavailable" once a read of the tokens failed (it may be a token this
// Auth has not read yet), on the admin API's Middleware too; a read that
// failed because its caller hung up says nothing of the store.
func TestAuth_StoreDownThenUnknown(t *testing.T) {
	ctx := context.Background()
	sq, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	st := &tokensDown{Store: cancelAware{sq}}
	auth := api.NewAuth(st, []sluice.Token{{Name: "cfg", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("cfg-secret-0123456789")}})
	auth.CacheFor = 0 // read only on Reload
	if err := auth.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.AuthenticateSecret(ctx, "not-a-token"); sluice.ErrorCode(err) != sluice.CodeUnauthorized {
		t.Fatalf("an unknown secret with the store up: %v, want a 401", err)
	}
	hung, cancel := context.WithCancel(ctx)
	cancel()
	if err := auth.Reload(hung); err == nil {
		t.Fatal("a reload on an ended context succeeded: the test proves nothing")
	}
	if _, err := auth.AuthenticateSecret(ctx, "not-a-token"); sluice.ErrorCode(err) != sluice.CodeUnauthorized {
		t.Errorf("an unknown secret after a reload whose caller hung up: %v, want a 401 still", err)
	}

	st.down.Store(true)
	if err := auth.Reload(ctx); err == nil {
		t.Fatal("a reload with the store down succeeded")
	}
	_, err = auth.AuthenticateSecret(ctx, "not-a-token")
	if !errors.Is(err, api.ErrTokenStoreDown) || sluice.ErrorCode(err) != sluice.CodeUnavailable {
		t.Errorf("an unknown secret with the store down: %v, want ErrTokenStoreDown", err)
	}
	h := auth.Middleware(sluice.RoleViewer, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for secret, want := range map[string]int{"not-a-token": http.StatusServiceUnavailable, "cfg-secret-0123456789": http.StatusNoContent} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/admin/v1/whoami", nil)
		r.Header.Set("Authorization", "Bearer "+secret)
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("the admin API with the store down: %d %s, want %d", rec.Code, rec.Body, want)
		}
	}

	// Back: the admin API reads the tokens again at once.
	st.down.Store(false)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/admin/v1/whoami", nil)
	r.Header.Set("Authorization", "Bearer not-a-token")
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("an unknown secret once the store answers: %d %s, want 401", rec.Code, rec.Body)
	}
}
