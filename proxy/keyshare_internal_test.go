package proxy

import (
	"math"
	"net/http"
	"net/http/httptest"
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
		if got := sharedCost(c.cost, float64(c.n)); got != c.want {
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
		if msg, want := (&overLimitError{k: k}).Error(), "rate limit of 50 requests per second (burst 100) shared by 3 replicas"; !strings.Contains(msg, want) {
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

// TestKeyState_TakeWeighted: a share weighted by demand is enforced as
// the even one is: a request costs 1/share of its cost alone, the
// bucket's tolerance unchanged. A key of 10/s burst 10 with 0.95 of its
// limits here (all its demand on this replica of two) admits its whole
// burst at once and 9.5 a second; the other replica's floor (0.05) lets
// one request through at once and one each 2 s. A key with no weighted
// share keeps the even one; a change of the share keeps the bucket.
func TestKeyState_TakeWeighted(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
	share := NewKeyShare()
	now := t0
	k := sharedKey(t, 10, 10, 0, share, &now)
	share.SetWeighted(2, map[string]float64{"k": 0.95})
	if got := share.Share("k"); got != 0.95 {
		t.Errorf("Share(k) = %v, want 0.95", got)
	}
	if got := share.Share("other"); got != 0.5 {
		t.Errorf("Share of a key with no weighted share = %v, want the even 0.5", got)
	}
	// Cost 100/0.95 = 105.26 ms a request against a 1 s tolerance: 9
	// at once (the tenth would put the bucket 1.053 s ahead).
	if n := takes(k, now); n != 9 {
		t.Errorf("at once with a share of 0.95: %d, want 9", n)
	}
	// 500 ms later the bucket is 447 ms ahead: 552 ms of room is 5
	// requests (9.5 a second's 4.75 and what the burst left).
	now += int64(500 * time.Millisecond)
	if n := takes(k, now); n != 5 {
		t.Errorf("500 ms later with a share of 0.95: %d, want 5 (9.5 a second)", n)
	}

	// The floor: 0.05 of 10/s is one request each 2 s, the first at once.
	now = t0
	share.SetWeighted(2, map[string]float64{"k": 0.05})
	k = sharedKey(t, 10, 10, 0, share, &now)
	if n := takes(k, now); n != 1 {
		t.Errorf("at once with a share of 0.05: %d, want 1 (a bucket always holds one request)", n)
	}
	if wait, ok := k.take(now); ok || wait != 2*time.Second {
		t.Errorf("the next request with a share of 0.05: wait %v ok %v, want a wait of 2s", wait, ok)
	}
	// The share rises to 0.5: the bucket is not refilled (it stays 2 s
	// ahead; a request of 200 ms fits in the 1 s tolerance once it is
	// 800 ms ahead, in 1.2 s), and refills at the new share's rate.
	share.SetWeighted(2, map[string]float64{"k": 0.5})
	if wait, ok := k.take(now); ok || wait != 1200*time.Millisecond {
		t.Errorf("after the share rose to 0.5: wait %v ok %v, want 1.2s", wait, ok)
	}
	// No weighted share: even.
	share.SetWeighted(2, nil)
	if got := k.scaled(); got != 2 {
		t.Errorf("with no weighted share, a request costs %v times its cost alone, want 2", got)
	}
	// Tokens: 600 a minute at a share of 0.25, a token costs 400 ms.
	share.SetWeighted(2, map[string]float64{"k": 0.25})
	now = t0
	k = sharedKey(t, 0, 0, 600, share, &now)
	k.chargeTokenCount(150)
	if _, ok := k.tokensLeft(now); !ok {
		t.Error("150 tokens at a share of 0.25 of 600 a minute: refused, want admitted")
	}
	k.chargeTokenCount(1)
	if wait, ok := k.tokensLeft(now); ok || wait != 400*time.Millisecond {
		t.Errorf("151 tokens: wait %v ok %v, want refused for 400ms", wait, ok)
	}
}

// TestKeyShare_Demand: each key's demand is the requests that reach its
// limits, admitted or refused, a second, smoothed (DemandTau): a
// replica that refuses a key still counts what it is asked. A key with
// no limit is not measured; a key idle long enough is left out.
func TestKeyShare_Demand(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := t0.UnixNano()
	ks, err := NewKeySet([]ClientKey{
		{Name: "limited", Hash: sluice.HashSecret("sk-demand-limited-0123"), RateLimit: 1, Burst: 1},
		{Name: "free", Hash: sluice.HashSecret("sk-demand-free-0123456")},
	}, nil, func() time.Time { return time.Unix(0, clock) })
	if err != nil {
		t.Fatal(err)
	}
	share := NewKeyShare()
	ks.SetShare(share)
	h := ks.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	send := func(secret string, n int) (ok int) {
		for range n {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil) // /v1/models spends no limit
			r.Header.Set("Authorization", "Bearer "+secret)
			h.ServeHTTP(w, r)
			if w.Code == http.StatusOK {
				ok++
			}
		}
		return ok
	}
	if d := share.Demand(t0); len(d) != 0 {
		t.Errorf("the first measure: %v, want none (it starts the count)", d)
	}
	// 10 requests in a second of a key of 1/s: 1 admitted, 9 refused,
	// all 10 demand.
	if ok := send("sk-demand-limited-0123", 10); ok != 1 {
		t.Fatalf("%d admitted of 10 at 1/s burst 1, want 1", ok)
	}
	send("sk-demand-free-0123456", 10)
	alpha := 1 - math.Exp(-1/DemandTau.Seconds())
	d := share.Demand(t0.Add(time.Second))
	if len(d) != 1 || math.Abs(d["limited"]-10*alpha) > 1e-9 {
		t.Errorf("after 10 requests in a second: %v, want limited at %v (10 a second, smoothed) and no key without a limit", d, 10*alpha)
	}
	// A second with none: the demand fades by e^(-1/2).
	d = share.Demand(t0.Add(2 * time.Second))
	if want := 10 * alpha * (1 - alpha); math.Abs(d["limited"]-want) > 1e-9 {
		t.Errorf("a second later, idle: %v, want limited at %v", d, want)
	}
	// Idle for long: left out.
	if d = share.Demand(t0.Add(20 * time.Second)); len(d) != 0 {
		t.Errorf("18 s idle: %v, want no key", d)
	}
	// A reload carries the arrivals not measured yet.
	send("sk-demand-limited-0123", 4)
	fresh, err := NewKeySet([]ClientKey{{Name: "limited", Hash: sluice.HashSecret("sk-demand-limited-0123"), RateLimit: 1, Burst: 1}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh.SetShare(share)
	fresh.Carry(ks)
	d = share.Demand(t0.Add(21 * time.Second))
	if want := 4 * alpha; math.Abs(d["limited"]-want) > 1e-9 {
		t.Errorf("after a reload: %v, want limited at %v (its 4 arrivals carried)", d, want)
	}
}
