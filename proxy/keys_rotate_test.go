package proxy_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// fakeClock is a clock a test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time       { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration)  { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

var rotT0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func TestKeySet_Rotated(t *testing.T) {
	const old, fresh = "sk-sluice-old-0123456789", "sk-sluice-new-0123456789"
	clk := newFakeClock(rotT0)
	ks, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "team-r", Hash: sluice.HashSecret(fresh), RateLimit: 1, Burst: 1, Created: rotT0.Add(-time.Hour),
		Retired: []proxy.RetiredSecret{{Hash: sluice.HashSecret(old), Until: rotT0.Add(time.Hour)}}}}, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	// In its grace the old secret is the key: one bucket for both.
	if rec := sendKey(ks, old); rec.Code != 200 {
		t.Fatalf("the old secret in its grace: %d %s", rec.Code, rec.Body)
	}
	if rec := sendKey(ks, fresh); rec.Code != 429 {
		t.Fatalf("the new secret right after the old one spent the burst: %d, want 429 (one bucket)", rec.Code)
	}
	clk.Add(time.Hour)
	rec := sendKey(ks, old)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "API key team-r was rotated") || !strings.Contains(rec.Body.String(), "new secret") || strings.Contains(rec.Body.String(), old) {
		t.Fatalf("the old secret after its grace: %d %s, want 401 saying the key was rotated", rec.Code, rec.Body)
	}
	if rec := sendKey(ks, fresh); rec.Code != 200 {
		t.Fatalf("the new secret: %d %s", rec.Code, rec.Body)
	}
}

func TestKeySet_Touch(t *testing.T) {
	const secret = "sk-sluice-used-0123456789"
	const config = "sk-config-used-0123456789"
	clk := newFakeClock(rotT0)
	created := rotT0.Add(-time.Hour)
	ks, err := proxy.NewKeySet([]proxy.ClientKey{
		{Name: "stored", Hash: sluice.HashSecret(secret), Created: created, LastUsedAt: rotT0.Add(-30 * time.Second)},
		{Name: "file", Hash: sluice.HashSecret(config)},
	}, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Time
	ks.SetTouch(func(name string, c, at time.Time) {
		if name != "stored" || !c.Equal(created) {
			t.Errorf("touch of %s created %v", name, c)
		}
		got = append(got, at)
	})
	sendKey(ks, secret)
	sendKey(ks, config)
	if len(got) != 0 {
		t.Fatalf("noted %v within a minute of the store's last use, want none", got)
	}
	clk.Add(40 * time.Second)
	sendKey(ks, secret)
	sendKey(ks, secret)
	clk.Add(30 * time.Second)
	sendKey(ks, secret)
	clk.Add(31 * time.Second)
	sendKey(ks, secret)
	want := []time.Time{rotT0.Add(40 * time.Second), rotT0.Add(101 * time.Second)}
	if len(got) != 2 || !got[0].Equal(want[0]) || !got[1].Equal(want[1]) {
		t.Fatalf("uses noted %v, want %v (at most once a minute)", got, want)
	}
	// A rotation keeps the key's last use noted and its buckets (by name
	// and creation).
	next, err := proxy.NewKeySet([]proxy.ClientKey{{Name: "stored", Hash: sluice.HashSecret("sk-sluice-next-0123456789"), Created: created}}, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	next.Carry(ks)
	next.SetTouch(func(string, time.Time, time.Time) { t.Error("a rotated key's use noted again within the minute") })
	sendKey(next, "sk-sluice-next-0123456789")
}
