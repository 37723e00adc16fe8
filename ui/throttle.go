package ui

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits on failed dashboard sign-ins. Tokens are 256 random bits, so the
// throttle is not what keeps them from being guessed: it keeps a client
// that sends wrong tokens in a loop from filling the log and from making
// the gateway read the store's tokens again for each one (an unknown
// secret makes AuthenticateAdmin read them, on any replica).
//
// Each client address may fail perAddrBurst times at once, then once every
// perAddrEvery: a person who mistyped is never kept out for more than
// perAddrEvery. All addresses together may fail globalBurst times, then
// once every globalEvery, so that many addresses cannot each take their
// own allowance; an address that signed in with a good token in the last
// knownFor is not held back by that shared allowance, only by its own.
const (
	perAddrBurst = 10
	perAddrEvery = 3 * time.Second
	globalBurst  = 100
	globalEvery  = 100 * time.Millisecond
	knownFor     = 24 * time.Hour
	// maxAddrs bounds the addresses remembered; beyond it an address with
	// no failures left to refill is forgotten, and a new one, if none is,
	// is held back by the shared allowance alone.
	maxAddrs = 10000
)

// bucket is a token bucket of failures allowed: tokens at time at.
type bucket struct {
	tokens float64
	at     time.Time
}

// refill brings b to now and reports whether it is full.
func (b *bucket) refill(now time.Time, burst int, every time.Duration) bool {
	if now.After(b.at) {
		b.tokens = math.Min(float64(burst), b.tokens+float64(now.Sub(b.at))/float64(every))
		b.at = now
	}
	return b.tokens >= float64(burst)
}

// wait is how long until b holds one token.
func (b *bucket) wait(every time.Duration) time.Duration {
	return time.Duration((1 - b.tokens) * float64(every))
}

// signInThrottle counts failed sign-ins per client address and overall.
type signInThrottle struct {
	now func() time.Time

	mu     sync.Mutex
	global bucket
	addrs  map[string]*bucket
	known  map[string]time.Time // addresses with a good sign-in, and when
}

func newSignInThrottle(now func() time.Time) *signInThrottle {
	return &signInThrottle{now: now, global: bucket{tokens: globalBurst, at: now()}, addrs: map[string]*bucket{}, known: map[string]time.Time{}}
}

// clientKey is the throttle's key for a request: its client's address
// (clientAddr), an IPv6 address by its /64, which one host commonly holds
// whole.
func clientKey(r *http.Request, trusted []netip.Prefix) string {
	a, ok := clientAddr(r, trusted)
	if !ok {
		_, host, _ := peerAddr(r)
		return host
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// peerAddr is the address of the peer that sent r; ok is false when
// RemoteAddr holds none (a test's request), and host is then what it holds.
func peerAddr(r *http.Request) (a netip.Addr, host string, ok bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err = netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, host, false
	}
	return a.Unmap().WithZone(""), host, true
}

// clientAddr returns the address of r's client. It is the peer's, unless
// the peer is a trusted proxy: then it is the rightmost X-Forwarded-For
// entry that is not itself one (each proxy appends the address it was sent
// from, so the entries from there leftwards are the client's to forge),
// or the leftmost entry when all are trusted. An entry that is not an
// address, met before that one, makes it the peer's again: the proxies'
// part of the header cannot be read. With no trusted proxies the header
// is never read. ok is false when the peer's address cannot be read.
func clientAddr(r *http.Request, trusted []netip.Prefix) (a netip.Addr, ok bool) {
	peer, _, ok := peerAddr(r)
	if !ok || !isTrusted(peer, trusted) {
		return peer, ok
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h, ok := forwardedAddr(hops[i])
		if !ok {
			return peer, true
		}
		client = h
		if !isTrusted(h, trusted) {
			break
		}
	}
	return client, true
}

// forwardedAddr reads one X-Forwarded-For entry: an address, with a port
// or in brackets as some proxies write it.
func forwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			bare, ok := strings.CutPrefix(s, "[")
			if bare, ok = strings.CutSuffix(bare, "]"); !ok {
				return netip.Addr{}, false
			}
			if a, err = netip.ParseAddr(bare); err != nil || !a.Is6() {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// attempt is a sign-in attempt counted by take, until its token is checked.
type attempt struct {
	addr   string
	global bool // the shared allowance paid for it
}

// take counts a sign-in attempt from addr before its token is checked. It
// returns zero when the attempt may go ahead, or how long the client must
// wait; an attempt that goes ahead and succeeds is given back by good.
func (t *signInThrottle) take(addr string) (time.Duration, attempt) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.addrs[addr]
	if b == nil {
		b = &bucket{tokens: perAddrBurst, at: now}
		if len(t.addrs) >= maxAddrs {
			t.prune(now)
		}
		if len(t.addrs) < maxAddrs {
			t.addrs[addr] = b
		}
	}
	b.refill(now, perAddrBurst, perAddrEvery)
	if b.tokens < 1 {
		return max(b.wait(perAddrEvery), time.Millisecond), attempt{}
	}
	known := false
	if at, ok := t.known[addr]; ok && now.Sub(at) < knownFor {
		known = true
	}
	t.global.refill(now, globalBurst, globalEvery)
	if !known {
		if t.global.tokens < 1 {
			return max(t.global.wait(globalEvery), time.Millisecond), attempt{}
		}
		t.global.tokens--
	}
	b.tokens--
	return 0, attempt{addr: addr, global: !known}
}

// good gives back an attempt take counted, whose token was right
// (signedIn) or could not be checked (the store did not answer): only
// wrong tokens count. A good sign-in also marks its address as one a
// good token came from.
func (t *signInThrottle) good(a attempt, signedIn bool) {
	now := t.now()
	addr := a.addr
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := t.addrs[addr]; b != nil {
		b.tokens = math.Min(perAddrBurst, b.tokens+1)
	}
	if a.global {
		t.global.tokens = math.Min(globalBurst, t.global.tokens+1)
	}
	if signedIn {
		if _, ok := t.known[addr]; !ok && len(t.known) >= maxAddrs {
			for k, at := range t.known {
				if now.Sub(at) >= knownFor {
					delete(t.known, k)
				}
			}
		}
		if _, ok := t.known[addr]; ok || len(t.known) < maxAddrs {
			t.known[addr] = now
		}
	}
}

// prune forgets the addresses whose allowance is whole again.
func (t *signInThrottle) prune(now time.Time) {
	for k, b := range t.addrs {
		if b.refill(now, perAddrBurst, perAddrEvery) {
			delete(t.addrs, k)
		}
	}
}

// retryAfter is the Retry-After value for a wait: whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
