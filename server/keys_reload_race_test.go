package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// keysGated holds one read of the store's client keys, once armed, after
// it has read them and before it returns them: a read that is slow to
// come back.
type keysGated struct {
	sluice.Store
	armed   atomic.Bool
	reached chan struct{}
	release chan struct{}
}

func (s *keysGated) ClientKeys(ctx context.Context) ([]sluice.StoredKey, error) {
	ks, err := s.Store.ClientKeys(ctx)
	if s.armed.CompareAndSwap(true, false) {
		close(s.reached)
		<-s.release
	}
	return ks, err
}

// TestGateway_RevokedKeyStaysRevokedAfterSlowRead: a read of the store's
// keys that began before a revoke (the one a secret not held starts, or
// the reconcile's) and ends after the revoke's own read must not put the
// revoked key back in force. On SQLite nothing else reads the keys again,
// so the revoked key worked until the next change.
func TestGateway_RevokedKeyStaysRevokedAfterSlowRead(t *testing.T) {
	ctx := context.Background()
	var st *keysGated
	gw := storeKeyedGateway(t, func(raw sluice.Store) sluice.Store {
		st = &keysGated{Store: raw, reached: make(chan struct{}), release: make(chan struct{})}
		return st
	})
	const secret = "sk-sluice-team-c-0123456789abcdef"
	send := func() (int, string) {
		req, _ := http.NewRequest("GET", gw.URL()+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	k := sluice.StoredKey{Name: "team-c", Hash: sluice.HashSecret(secret), CreatedAt: time.Now()}
	if err := st.Store.PutClientKey(ctx, k, sluice.AuditEntry{At: time.Now(), Actor: "ada", Action: "key.create", Subject: "team-c", Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	if err := gw.ReloadStoredKeys(ctx); err != nil {
		t.Fatal(err)
	}
	if code, body := send(); code != http.StatusOK {
		t.Fatalf("the issued key: %d %s, want 200", code, body)
	}

	// A read begins while the key is in the store, and is slow to end.
	st.armed.Store(true)
	slow := make(chan error, 1)
	go func() { slow <- gw.ReloadStoredKeys(ctx) }()
	<-st.reached
	// The key is revoked and read again, as the admin API does.
	if err := st.Store.DeleteClientKey(ctx, "team-c", sluice.AuditEntry{At: time.Now(), Actor: "ada", Action: "key.delete", Subject: "team-c", Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	revoke := make(chan error, 1)
	go func() { revoke <- gw.ReloadStoredKeys(ctx) }()
	// Let the revoke's read end first when it can (it may rightly wait
	// for the slow one); then the slow read ends.
	select {
	case err := <-revoke:
		revoke <- err
	case <-time.After(200 * time.Millisecond):
	}
	close(st.release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if err := <-revoke; err != nil {
		t.Fatal(err)
	}
	if code, body := send(); code != http.StatusUnauthorized || !strings.Contains(body, "team-c was revoked") {
		t.Fatalf("the revoked key after a read begun before the revoke ended: %d %s, want 401 saying it was revoked", code, body)
	}
}
