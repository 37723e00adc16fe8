package api_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/sqlite"
)

// TestDeleteToken_LastTwoAdminsAtOnce: the gateway has two admin tokens
// and none in the config file; their two holders each delete the other's
// (or their own) at the same moment. One delete must be refused as the
// last admin token, so an admin token is always left: the check and the
// delete are one store transaction.
func TestDeleteToken_LastTwoAdminsAtOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctl, err := control.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := api.New(api.Options{Control: ctl, Auth: api.NewAuth(st, nil)})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	admins := []string{"alice", "bob"}
	client := func(name string) *api.Client {
		return &api.Client{BaseURL: hs.URL, Token: "slk_" + name + "-secret-0123456789", HTTP: hs.Client()}
	}
	for round := 0; round < 30; round++ {
		stored := map[string]bool{}
		toks, err := st.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range toks {
			stored[tok.Name] = true
		}
		for _, name := range admins {
			if !stored[name] {
				tok := sluice.Token{Name: name, Role: sluice.RoleAdmin, Hash: sluice.HashSecret("slk_" + name + "-secret-0123456789"), CreatedAt: t0}
				if err := st.PutToken(ctx, tok, sluice.AuditEntry{Actor: "test", Action: "token.create", Subject: name, Reason: "setup"}); err != nil {
					t.Fatal(err)
				}
			}
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(admins))
		for i, name := range admins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// Each holder deletes the other's token.
				errs[i] = client(name).DeleteToken(ctx, admins[1-i], "rotate")
			}()
		}
		close(start)
		wg.Wait()
		toks, err = st.Tokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, tok := range toks {
			if tok.Role == sluice.RoleAdmin {
				left++
			}
		}
		if left == 0 {
			t.Fatalf("round %d: both deletes passed (%v, %v): no admin token is left", round, errs[0], errs[1])
		}
		refused := 0
		for _, err := range errs {
			switch {
			case err == nil:
			case sluice.ErrorCode(err) == sluice.CodeConflict:
				wantErr(t, err, sluice.CodeConflict, []string{"name"}, "last admin token", "create another first")
				refused++
			case sluice.ErrorCode(err) == sluice.CodeUnauthorized:
				// The other delete won first and took this holder's token:
				// its request was no longer authorised, and deleted nothing.
				refused++
			default:
				t.Fatalf("round %d: delete: %v", round, err)
			}
		}
		if refused != 1 || left != 1 {
			t.Fatalf("round %d: %d admin tokens left, %d deletes refused (%v, %v): want one of each", round, left, refused, errs[0], errs[1])
		}
	}
}
