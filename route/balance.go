package route

import (
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Balance is how a version's requests are spread over its endpoints (the
// replicas of its backend). It chooses an endpoint of the version routing
// chose; it never changes which version serves.
type Balance string

const (
	// BalanceLeastRequests sends a request to the less busy of two live
	// endpoints drawn at random (the power of two choices, as Envoy's
	// least_request does), by the requests this process has in flight to
	// each (Loads). LLM requests vary a hundredfold in length, so
	// round-robin piles requests onto a replica busy with long generations
	// while another idles. The empty Balance means this one.
	BalanceLeastRequests Balance = "least_requests"
	// BalanceRoundRobin sends a version's requests to its live endpoints
	// in turn.
	BalanceRoundRobin Balance = "round_robin"
)

// Loads counts the requests in flight from this process to each endpoint
// (backend base URL). It outlives the Tables built with it (Options.Loads),
// so a rebuild, which happens on every change, keeps the counts, and a
// request that started under an older Table lowers the same count it
// raised. An endpoint shared by several versions has one count. The zero
// Loads is ready to use and safe for concurrent use.
//
// The map from endpoint to counter is copied on write: Build finds the
// counters, and the request path only loads and adds to the counter its
// Target already holds.
type Loads struct {
	m  atomic.Pointer[map[string]*atomic.Int64]
	mu sync.Mutex
}

// Counter returns the counter of endpoint, made on first use. The caller
// that sends a request to endpoint adds 1 to it, and 1 less when the
// request's answer ends.
func (l *Loads) Counter(endpoint string) *atomic.Int64 {
	if m := l.m.Load(); m != nil {
		if c := (*m)[endpoint]; c != nil {
			return c
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var old map[string]*atomic.Int64
	if m := l.m.Load(); m != nil {
		old = *m
	}
	if c := old[endpoint]; c != nil {
		return c
	}
	next := make(map[string]*atomic.Int64, len(old)+1)
	maps.Copy(next, old)
	c := new(atomic.Int64)
	next[endpoint] = c
	l.m.Store(&next)
	return c
}

// InFlight returns the requests in flight to endpoint, as counted on its
// Counter.
func (l *Loads) InFlight(endpoint string) int64 {
	if m := l.m.Load(); m != nil {
		if c := (*m)[endpoint]; c != nil {
			return c.Load()
		}
	}
	return 0
}

// Choose returns the index in Endpoints of the endpoint the next request
// to t goes to, by the Table's Balance over the live endpoints (those
// health checks have not found down; every endpoint when none is up), or
// -1 when t has none. With one live endpoint it is that one. The caller
// counts the request on InFlight(i) while it is in flight. It takes no
// lock and allocates nothing; it is safe for concurrent use.
func (t *Target) Choose() int {
	n := len(t.live)
	switch {
	case n == 0:
		return -1
	case n == 1:
		return t.live[0]
	case t.roundRobin:
		return t.live[(t.next.Add(1)-1)%uint64(n)]
	}
	// Two distinct live endpoints at random from one draw of the runtime's
	// per-thread generator (no lock, no shared cache line): a from the low
	// 32 bits, b from the next 31, the top bit breaking a tie, so idle
	// endpoints share the traffic evenly.
	r := rand.Uint64()
	a := int(uint32(r) % uint32(n))
	b := int(uint32(r>>32&0x7fffffff) % uint32(n-1))
	if b >= a {
		b++
	}
	ia, ib := t.live[a], t.live[b]
	la, lb := t.loads[ia].Load(), t.loads[ib].Load()
	if lb < la || lb == la && r>>63 != 0 {
		return ib
	}
	return ia
}

// Endpoint returns the backend base URL the next request to t goes to
// (see Choose), or "" when t has none.
func (t *Target) Endpoint() string {
	if i := t.Choose(); i >= 0 {
		return t.Endpoints[i]
	}
	return ""
}

// Index returns the index of endpoint in Endpoints, or -1.
func (t *Target) Index(endpoint string) int {
	for i, e := range t.Endpoints {
		if e == endpoint {
			return i
		}
	}
	return -1
}

// InFlight returns the counter of requests in flight to Endpoints[i], from
// the Table's Loads: an endpoint has the same counter in every Table built
// with the same Loads, and in every version that lists it.
func (t *Target) InFlight(i int) *atomic.Int64 { return t.loads[i] }
