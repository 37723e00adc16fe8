package proxy

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestSharedCost: with n replicas sharing a key's limit evenly, one
// request (or token) costs a replica's bucket n times the configured
// cost, so each replica refills at the limit's nth; it saturates, with
// room to add a clock reading, rather than overflow for a tiny rate on
// many replicas.
func TestSharedCost(t *testing.T) {
	for _, c := range []struct {
		cost, n, want int64
	}{
		{int64(20 * time.Millisecond), 1, int64(20 * time.Millisecond)},
		{int64(20 * time.Millisecond), 3, int64(60 * time.Millisecond)},
		{int64(20 * time.Millisecond), 0, int64(20 * time.Millisecond)}, // no count yet: the whole limit
		{math.MaxInt64 / 4, 3, maxSharedCost},
	} {
		if got := sharedCost(c.cost, c.n); got != c.want {
			t.Errorf("sharedCost(%d, %d) = %d, want %d", c.cost, c.n, got, c.want)
		}
	}
}

// sharedKey returns the keyState of a key with rate/s, burst and tpm
// tokens a minute, its limits shared by replicas, on a clock the test
// sets (*now, ns).
func sharedKey(t *testing.T, rate float64, burst int, tpm int64, share *KeyShare, now *int64) *keyState {
	t.Helper()
	ks, err := NewKeySet([]ClientKey{{Name: "k", Hash: sluice.HashSecret("sk-share-0123456789"), RateLimit: rate, Burst: burst, TokensPerMinute: tpm}},
		nil, func() time.Time { return time.Unix(0, *now) })
	if err != nil {
		t.Fatal(err)
	}
	ks.SetShare(share)
	for _, k := range ks.byHash {
		return k
	}
	panic("no key")
}

// takes counts the requests k's bucket admits at now, until it refuses.
func takes(k *keyState, now int64) int {
	n := 0
	for ; n < 10000; n++ {
		if _, ok := k.take(now); !ok {
			break
		}
	}
	return n
}

// TestKeyState_TakeShared: the share arithmetic, exactly. A key of 50/s
// burst 100 on 3 replicas admits a third of its burst at once on each
// (33: 3 × 33 ≤ 100) and a third of its rate from then on; alone it
// admits the whole; a burst smaller than the replicas still lets one
// request through on each; a change of the replicas keeps the bucket
// (neither refilled nor emptied), and it refills at the new share's rate.
func TestKeyState_TakeShared(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	t.Run("Third", func(t *testing.T) {
		share := NewKeyShare()
		share.Set(3)
		now := t0
		k := sharedKey(t, 50, 100, 0, share, &now)
		if n := takes(k, now); n != 33 {
			t.Errorf("burst at once on 1 of 3 replicas: %d, want 33", n)
		}
		// A 429 names the limit configured, and that the fleet shares it.
		if msg, want := (&overLimitError{k: k}).Error(), "rate limit of 50 requests per second (burst 100) across 3 replicas"; !strings.Contains(msg, want) {
			t.Errorf("the 429 says %q, want it to hold %q", msg, want)
		}
		// One request costs 60 ms of the bucket: the 33 put it 1.98 s
		// ahead of a 2 s tolerance; a second later it is 0.98 s ahead,
		// and 1.02 s of room is 17 requests (the second's 16.7 and the
		// third of one the burst left).
		now += int64(time.Second)
		if n := takes(k, now); n != 17 {
			t.Errorf("a second later on 1 of 3 replicas: %d, want 17 (50/3 a second)", n)
		}
	})
	t.Run("Alone", func(t *testing.T) {
		share := NewKeyShare()
		now := t0
		k := sharedKey(t, 50, 100, 0, share, &now)
		if n := takes(k, now); n != 100 {
			t.Errorf("burst at once alone: %d, want 100", n)
		}
		var nilShare *KeyShare
		if got := nilShare.replicas(); got != 1 {
			t.Errorf("a nil share counts %d replicas, want 1", got)
		}
	})
	t.Run("BurstBelowReplicas", func(t *testing.T) {
		share := NewKeyShare()
		share.Set(2)
		now := t0
		k := sharedKey(t, 10, 1, 0, share, &now)
		if n := takes(k, now); n != 1 {
			t.Errorf("burst 1 on 1 of 2 replicas: %d at once, want 1 (one request always fits)", n)
		}
		// Then 5 a second: the next in 200 ms.
		if wait, ok := k.take(now); ok || wait != 200*time.Millisecond {
			t.Errorf("the next request: wait %v ok %v, want a wait of 200ms", wait, ok)
		}
	})
	t.Run("ChangeKeepsBucket", func(t *testing.T) {
		share := NewKeyShare()
		share.Set(2)
		now := t0
		k := sharedKey(t, 50, 100, 0, share, &now)
		if n := takes(k, now); n != 50 {
			t.Fatalf("burst at once on 1 of 2 replicas: %d, want 50", n)
		}
		// The other replica stops: the bucket stays as empty as it was.
		share.Set(1)
		if n := takes(k, now); n != 0 {
			t.Errorf("at once after the other replica stopped: %d more, want 0 (the bucket is not refilled)", n)
		}
		// It refills at the whole rate: 100 ms is 5 requests (2 on a half).
		now += int64(100 * time.Millisecond)
		if n := takes(k, now); n != 5 {
			t.Errorf("100 ms later alone: %d, want 5", n)
		}
		// A replica joins: what is left is not refilled either.
		share.Set(2)
		if n := takes(k, now); n != 0 {
			t.Errorf("at once after a replica joined: %d more, want 0", n)
		}
	})
	t.Run("Tokens", func(t *testing.T) {
		share := NewKeyShare()
		share.Set(2)
		now := t0
		k := sharedKey(t, 0, 0, 600, share, &now)
		// 600 a minute on 2 replicas: 300 here within the minute's
		// tolerance, the 301st over it.
		k.chargeTokenCount(300)
		if _, ok := k.tokensLeft(now); !ok {
			t.Error("300 tokens on 1 of 2 replicas of 600 a minute: refused, want admitted")
		}
		k.chargeTokenCount(1)
		if wait, ok := k.tokensLeft(now); ok || wait != 200*time.Millisecond {
			t.Errorf("301 tokens: wait %v ok %v, want refused for 200ms (a token's half-rate cost)", wait, ok)
		}
		share.Set(1)
		now = t0
		k = sharedKey(t, 0, 0, 600, share, &now)
		k.chargeTokenCount(600)
		if _, ok := k.tokensLeft(now); !ok {
			t.Error("600 tokens alone: refused, want admitted")
		}
	})
}

// TestKeyState_LimitHeadersShared: the x-ratelimit-* headers say the
// limits the user configured, not a replica's share; what remains is
// this replica's share left scaled to the whole (its fraction left ×
// the limit): what the fleet has left when the key's requests are spread
// over the replicas.
func TestKeyState_LimitHeadersShared(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	share := NewKeyShare()
	share.Set(2)
	now := t0
	k := sharedKey(t, 10, 5, 600, share, &now)
	if _, ok := k.take(now); !ok {
		t.Fatal("the first request was refused")
	}
	k.chargeTokenCount(60) // 12 s of the minute at a half share's 200 ms a token
	h := make(map[string][]string)
	k.limitHeaders(h, now, false)
	want := map[string]string{
		"X-Ratelimit-Limit-Requests":     "5",
		"X-Ratelimit-Remaining-Requests": "3", // 300 ms of 500 left, at 100 ms a request
		"X-Ratelimit-Reset-Requests":     "200ms",
		"X-Ratelimit-Limit-Tokens":       "600",
		"X-Ratelimit-Remaining-Tokens":   "480", // 12 s of 60 used, at 100 ms a token
		"X-Ratelimit-Reset-Tokens":       "12s",
	}
	for name, v := range want {
		if got := h[name]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	// Pending (Admit takes it): one share's request more is counted.
	h = make(map[string][]string)
	k.limitHeaders(h, now, true)
	if got := h["X-Ratelimit-Remaining-Requests"]; len(got) != 1 || got[0] != "1" {
		t.Errorf("remaining with this request's token pending: %q, want 1", got)
	}
	// A burst below the replicas: a full bucket never says more than the
	// limit remains.
	share.Set(4)
	k = sharedKey(t, 10, 2, 0, share, &now)
	h = make(map[string][]string)
	k.limitHeaders(h, now, false)
	if got := h["X-Ratelimit-Remaining-Requests"]; len(got) != 1 || got[0] != "2" {
		t.Errorf("a full bucket of burst 2 on 4 replicas: remaining %q, want 2", got)
	}
}
