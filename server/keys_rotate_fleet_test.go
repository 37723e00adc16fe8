package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestReplicas_KeyRotatedAndRevoked runs replicas on one PostgreSQL
// store, with one clock the test moves: a key used on b shows b's last
// use in a's list; a rotation through a is in force on b (the new secret
// at once, the old one through its grace and refused as rotated after),
// and a replica started after a revoke says the key was revoked.
func TestReplicas_KeyRotatedAndRevoked(t *testing.T) {
	skew := new(atomic.Int64)
	f := newKeyFleet(t, func(c *config.Gateway) { c.RequireClientKeys = true },
		server.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	b, admin, start := f.b, f.admin, f.start
	ctx := context.Background()

	k, err := admin.CreateKey(ctx, api.KeyRequest{Name: "team-a", Models: []string{"chat"}, Reason: "onboard"})
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := keyChat(t, b, k.Secret); code != http.StatusOK {
		t.Fatalf("replica b: %d %q", code, msg)
	}
	b.WaitKeyTouches()
	ks, err := admin.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.Keys) != 1 || ks.Keys[0].LastUsedAt.IsZero() {
		t.Fatalf("a's list after a use on b: %+v, want team-a with last_used_at", ks.Keys)
	}

	rotated, err := admin.RotateKey(ctx, "team-a", api.KeyRotateRequest{Grace: "1h", Reason: "leaked"})
	if err != nil {
		t.Fatal(err)
	}
	if rotated.GraceUntil.IsZero() || rotated.RotatedAt.IsZero() || rotated.Secret == k.Secret {
		t.Fatalf("rotate answered %+v", rotated)
	}
	// The new secret on b as a new key is (the store's notification, or a
	// read for a secret b does not hold, at most one per 200 ms: b read
	// the keys for team-a's first secret a moment ago); the old one
	// still, in its grace.
	waitFor(t, "replica b to accept the new secret", 5*time.Second, func() bool {
		code, _ := keyChat(t, b, rotated.Secret)
		return code == http.StatusOK
	})
	if code, msg := keyChat(t, b, k.Secret); code != http.StatusOK {
		t.Fatalf("replica b answered the old secret in its grace with %d %q", code, msg)
	}
	skew.Store(int64(61 * time.Minute))
	var last string
	waitFor(t, "replica b to refuse the rotated-out secret", 2*server.ReconcileInterval+10*time.Second, func() bool {
		code, msg := keyChat(t, b, k.Secret)
		last = msg
		return code == http.StatusUnauthorized
	})
	if !strings.Contains(last, "team-a was rotated") || strings.Contains(last, k.Secret) {
		t.Errorf("replica b refused the old secret with %q, want it named as rotated, without the secret", last)
	}
	if code, msg := keyChat(t, b, rotated.Secret); code != http.StatusOK {
		t.Errorf("replica b after the grace answered the new secret with %d %q", code, msg)
	}

	if err := admin.DeleteKey(ctx, "team-a", "offboard"); err != nil {
		t.Fatal(err)
	}
	c := start()
	waitFor(t, "replica c to route chat", 10*time.Second, func() bool { _, ok := c.Routes.Load().View("chat"); return ok })
	for name, s := range map[string]string{"old": k.Secret, "new": rotated.Secret} {
		if code, msg := keyChat(t, c, s); code != http.StatusUnauthorized || !strings.Contains(msg, "team-a was revoked") {
			t.Errorf("replica c, started after the revoke, answered the %s secret with %d %q, want 401 saying it was revoked", name, code, msg)
		}
	}
}
