package api_test

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/sqlite"
)

// TestTokenByHashWhileStaticTokensReload: an SRE edits the config
// file's tokens and sends SIGHUP (Auth.SetStatic) while people use the
// dashboard, whose every request resolves its session with
// Auth.TokenByHash.
// Now: TokenByHash reads the static token slice without the lock that
// SetStatic writes it under (AuthenticateSecret goes through Static(),
// which locks; TokenByHash reads a.static directly): a data race, reported
// by -race, in which a dashboard request may see a torn slice header.
// Should: TokenByHash reads the static tokens under the lock (or a copy
// of them), as AuthenticateSecret does.
func TestTokenByHashWhileStaticTokensReload(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok := func(name string) sluice.Token {
		return sluice.Token{Name: name, Role: sluice.RoleAdmin, Hash: sluice.HashSecret(name + "-secret-0123456789")}
	}
	auth := api.NewAuth(st, []sluice.Token{tok("a")})
	auth.CacheFor = 0 // the store is read once: only the static tokens change
	if _, err := auth.TokenByHash(ctx, sluice.HashSecret("a-secret-0123456789")); err != nil {
		t.Fatal(err)
	}
	// Both loops start together and yield after each step, so that they
	// interleave even on a loaded machine; the race detector needs only
	// one read and one write with no synchronisation between them.
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Add(2)
	go func() { // SIGHUP, again and again
		defer wg.Done()
		<-start
		for i := 0; i < 1000; i++ {
			runtime.Gosched()
			list := []sluice.Token{tok("a")}
			if i%2 == 0 {
				list = append(list, tok("b"))
			}
			if err := auth.SetStatic(ctx, list); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() { // dashboard requests
		defer wg.Done()
		<-start
		for i := 0; i < 1000; i++ {
			runtime.Gosched()
			if _, err := auth.TokenByHash(ctx, sluice.HashSecret("a-secret-0123456789")); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	close(start)
	wg.Wait()
}
