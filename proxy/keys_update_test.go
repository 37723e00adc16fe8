package proxy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestKeySet_CarryChangedLimit: a key whose rate limit changed (sluice key
// update) keeps what it used of its bucket, in requests: a raised limit
// lets a spent key in at once with the room the raise gives (one request
// of the new burst already used), and a lowered one gives no fresh burst.
func TestKeySet_CarryChangedLimit(t *testing.T) {
	const secret = "sk-sluice-limited-0123456789"
	created := rotT0.Add(-time.Hour)
	keySet := func(t *testing.T, clk *fakeClock, rate float64, burst int) *proxy.KeySet {
		t.Helper()
		ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "team-u", Hash: sluice.HashSecret(secret), RateLimit: rate, Burst: burst, Created: created}}, nil, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	// served sends n requests at once and counts the 200s.
	served := func(ks *proxy.KeySet, n int) int {
		ok := 0
		for range n {
			if sendKey(ks, secret).Code == http.StatusOK {
				ok++
			}
		}
		return ok
	}

	t.Run("Raised", func(t *testing.T) {
		clk := newFakeClock(rotT0)
		old := keySet(t, clk, 1, 1)
		if got := served(old, 3); got != 1 {
			t.Fatalf("1/s burst 1: %d of 3 served at once, want 1", got)
		}
		raised := keySet(t, clk, 100, 100)
		raised.Carry(old)
		// The request it used stays used: 99 of the new burst of 100.
		if got := served(raised, 150); got != 99 {
			t.Fatalf("raised to 100/s burst 100: %d of 150 served at once, want 99", got)
		}
	})
	t.Run("Lowered", func(t *testing.T) {
		clk := newFakeClock(rotT0)
		old := keySet(t, clk, 100, 10)
		if got := served(old, 10); got != 10 {
			t.Fatalf("100/s burst 10: %d of 10 served, want 10", got)
		}
		lowered := keySet(t, clk, 1, 5)
		lowered.Carry(old)
		// Its burst is spent: no fresh one of 5, a full bucket at the new
		// size, which lets one request in a second.
		if got := served(lowered, 5); got != 0 {
			t.Fatalf("lowered to 1/s burst 5: %d served at once, want 0 (no fresh burst)", got)
		}
		clk.Add(time.Second)
		if got := served(lowered, 5); got != 1 {
			t.Fatalf("lowered, a second later: %d served, want 1", got)
		}
	})
	t.Run("Removed", func(t *testing.T) {
		clk := newFakeClock(rotT0)
		old := keySet(t, clk, 1, 1)
		served(old, 2)
		free := keySet(t, clk, 0, 0)
		free.Carry(old)
		if got := served(free, 20); got != 20 {
			t.Fatalf("limit removed: %d of 20 served, want 20", got)
		}
	})
}
