package api_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/sqlite"
)

// silentTokensStore is a store whose Tokens, once hang is set, does not
// answer until released or its context ends: a PostgreSQL server gone
// silent (the store's own bound is 15 s per call).
type silentTokensStore struct {
	sluice.Store
	hang    atomic.Bool
	release chan struct{}
	once    sync.Once
}

func (s *silentTokensStore) Tokens(ctx context.Context) ([]sluice.Token, error) {
	if s.hang.Load() {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, sluice.Errorf(sluice.CodeUnavailable, "the store did not answer")
	}
	return s.Store.Tokens(ctx)
}

func (s *silentTokensStore) unblock() { s.once.Do(func() { close(s.release) }) }

// TestStaticTokenWorksWhileStoreSilent: the shared store goes
// silent (a partition, a host lost) and an SRE uses the break-glass admin
// token from the config file, whose doc promises "without the store's
// tokens the static ones still work".
// Now: once the token cache is older than CacheFor, every authentication,
// a static token's included, first re-reads the store's tokens while
// holding the Auth's lock, and a failed read does not renew the cache, so
// every later call reads again: each admin request (and each forced data
// plane request, each operator token used as an API key) waits the whole
// store timeout, one after the other behind the lock.
// Should: a static token is accepted without waiting on the store (and a
// refresh that cannot finish does not hold every caller).
func TestStaticTokenWorksWhileStoreSilent(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	store := &silentTokensStore{Store: st, release: make(chan struct{})}
	defer store.unblock()
	const secret = "break-glass-secret-0123456789"
	auth := api.NewAuth(store, []sluice.Token{{Name: "break-glass", Role: sluice.RoleAdmin, Hash: sluice.HashSecret(secret)}})
	auth.CacheFor = 10 * time.Millisecond
	if _, err := auth.AuthenticateSecret(ctx, secret); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the cache is now older than CacheFor
	store.hang.Store(true)

	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := auth.AuthenticateSecret(ctx, secret)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the static token with the store silent: %v", err)
		}
	case <-time.After(5 * time.Second):
		store.unblock()
		<-done
		t.Fatalf("the config file's admin token waited %v (and until the store answered) for a store that does not answer", time.Since(start).Round(time.Second))
	}
}
