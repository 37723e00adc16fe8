package ui

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)} }
func mustPass(t *testing.T, th *signInThrottle, addr string) attempt {
	t.Helper()
	wait, a := th.take(addr)
	if wait != 0 {
		t.Fatalf("attempt from %s held back %v, want allowed", addr, wait)
	}
	return a
}

func TestSignInThrottle_PerAddress(t *testing.T) {
	clk := newFakeClock()
	th := newSignInThrottle(clk.now)
	for i := 0; i < perAddrBurst; i++ {
		mustPass(t, th, "10.0.0.1") // wrong tokens: not given back
	}
	wait, _ := th.take("10.0.0.1")
	if wait <= 0 || wait > perAddrEvery {
		t.Fatalf("attempt %d from one address: wait %v, want in (0, %v]", perAddrBurst+1, wait, perAddrEvery)
	}
	if got := retryAfter(wait); got != "3" {
		t.Errorf("Retry-After %q, want 3", got)
	}
	mustPass(t, th, "10.0.0.2") // another address has its own allowance
	clk.add(perAddrEvery)
	mustPass(t, th, "10.0.0.1") // one more after the refill time, never a long lock-out
	if wait, _ := th.take("10.0.0.1"); wait <= 0 {
		t.Fatal("a second attempt right after the refill was allowed")
	}
}

func TestSignInThrottle_GoodSignInsDoNotCount(t *testing.T) {
	clk := newFakeClock()
	th := newSignInThrottle(clk.now)
	for i := 0; i < 5*globalBurst; i++ {
		th.good(mustPass(t, th, "10.0.0.1"), true)
	}
	for i := 0; i < 5*globalBurst; i++ {
		th.good(mustPass(t, th, "10.0.0.3"), false) // the store did not answer
	}
	for i := 0; i < perAddrBurst; i++ {
		mustPass(t, th, "10.0.0.1")
	}
	if wait, _ := th.take("10.0.0.1"); wait <= 0 {
		t.Fatal("the address's allowance was not whole after good sign-ins: got more than the burst")
	}
}

func TestSignInThrottle_Global(t *testing.T) {
	clk := newFakeClock()
	th := newSignInThrottle(clk.now)
	th.good(mustPass(t, th, "192.0.2.1"), true) // an admin signed in from here before
	for i := 0; i < globalBurst; i++ {
		mustPass(t, th, fmt.Sprintf("10.1.%d.%d", i/256, i%256)) // many addresses, one wrong token each
	}
	wait, _ := th.take("10.9.9.9")
	if wait <= 0 || wait > globalEvery {
		t.Fatalf("a new address after %d failures from others: wait %v, want in (0, %v]", globalBurst, wait, globalEvery)
	}
	mustPass(t, th, "192.0.2.1") // a known address is held back by its own allowance only
	clk.add(globalEvery)
	mustPass(t, th, "10.9.9.9")
}

func TestClientKey(t *testing.T) {
	for _, c := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"@", "@"}, // a unix socket peer
	} {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{"X-Forwarded-For": {"203.0.113.9"}}}
		if got := clientKey(r, nil); got != c.want {
			t.Errorf("clientKey(%q) = %q, want %q", c.remote, got, c.want)
		}
	}
}

func TestSignInThrottle_Bounded(t *testing.T) {
	clk := newFakeClock()
	th := newSignInThrottle(clk.now)
	for i := 0; i < maxAddrs+50; i++ {
		th.take(fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255))
		clk.add(globalEvery) // keep the shared allowance from running dry
	}
	if len(th.addrs) > maxAddrs {
		t.Fatalf("%d addresses remembered, want at most %d", len(th.addrs), maxAddrs)
	}
}

// TestClientAddr is the address the sign-in throttle counts a request
// against: the peer's, or, for a peer that is a trusted proxy, the
// rightmost X-Forwarded-For entry that is not itself a trusted proxy.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.1/32"),
		netip.MustParsePrefix("fd00::/8"),
	}
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string // header lines, in order
		want    string   // clientKey
	}{
		{"NoTrustedProxies", nil, "127.0.0.1:5555", []string{"203.0.113.9"}, "127.0.0.1"},
		{"UntrustedPeer", trusted, "192.0.2.7:5555", []string{"203.0.113.9"}, "192.0.2.7"},
		{"TrustedPeer", trusted, "127.0.0.1:5555", []string{"203.0.113.9"}, "203.0.113.9"},
		{"TrustedPeerNoHeader", trusted, "127.0.0.1:5555", nil, "127.0.0.1"},
		{"MappedPeer", trusted, "[::ffff:10.1.2.3]:5555", []string{"203.0.113.9"}, "203.0.113.9"},
		{"SeveralHops", trusted, "10.0.0.1:5555", []string{"203.0.113.9, 10.2.0.5, 10.3.0.7"}, "203.0.113.9"},
		{"HopsOnSeveralLines", trusted, "10.0.0.1:5555", []string{"203.0.113.9, 10.2.0.5", "10.3.0.7"}, "203.0.113.9"},
		// The client wrote the leftmost entries; the proxy appended the
		// address it was sent from: that one counts.
		{"SpoofedLeftmost", trusted, "10.0.0.1:5555", []string{"198.51.100.1, 198.51.100.2, 203.0.113.9"}, "203.0.113.9"},
		{"SpoofedTrustedLeftmost", trusted, "10.0.0.1:5555", []string{"10.9.9.9, 203.0.113.9"}, "203.0.113.9"},
		{"GarbageLeftOfClient", trusted, "10.0.0.1:5555", []string{"<script>, 203.0.113.9"}, "203.0.113.9"},
		{"AllTrusted", trusted, "10.0.0.1:5555", []string{"10.5.0.1, 10.2.0.5"}, "10.5.0.1"},
		{"IPv6Client", trusted, "[fd00::1]:443", []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::/64"},
		{"IPv6ClientBracketed", trusted, "[fd00::1]:443", []string{"[2001:db8:1:2::9]"}, "2001:db8:1:2::/64"},
		{"IPv6ClientWithPort", trusted, "[fd00::1]:443", []string{"[2001:db8:1:2::9]:4711"}, "2001:db8:1:2::/64"},
		{"IPv4ClientWithPort", trusted, "10.0.0.1:5555", []string{"203.0.113.9:4711"}, "203.0.113.9"},
		{"IPv6UntrustedPeer", trusted, "[2001:db8:9::1]:443", []string{"203.0.113.9"}, "2001:db8:9::/64"},
		{"MappedClient", trusted, "10.0.0.1:5555", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"Garbage", trusted, "10.0.0.1:5555", []string{"not-an-address"}, "10.0.0.1"},
		{"GarbageBetweenProxies", trusted, "10.0.0.1:5555", []string{"203.0.113.9, unknown, 10.2.0.5"}, "10.0.0.1"},
		{"EmptyEntry", trusted, "10.0.0.1:5555", []string{"203.0.113.9,"}, "10.0.0.1"},
		{"EmptyHeader", trusted, "10.0.0.1:5555", []string{""}, "10.0.0.1"},
		{"UnixSocketPeer", trusted, "@", []string{"203.0.113.9"}, "@"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			for _, v := range c.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientKey(r, c.trusted); got != c.want {
				t.Errorf("clientKey(peer %s, X-Forwarded-For %q) = %q, want %q", c.remote, c.xff, got, c.want)
			}
		})
	}
}
