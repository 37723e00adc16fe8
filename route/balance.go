package route

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/sluicehq/sluice/internal/cowmap"
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

// failPenalty caps what an endpoint's failed attempts in a row weigh in
// BalanceLeastRequests, as that many requests in flight. A replica that
// fails at once (connection refused, a 503 from a server still loading)
// has nothing in flight, and by its count alone would win every draw and
// take most of the traffic until health checks find it down: the black
// hole of least requests. Each failure in a row weighs as one request
// more, up to failPenalty, so it takes new requests only while the others
// are that busy; its first success clears it. A cap, and not a longer
// exclusion, because an endpoint whose failures were a moment's must come
// back to take traffic as soon as the others are busy, without a clock on
// the request path.
const failPenalty = 8

// Load is one endpoint's count of requests in flight from this process,
// and of its attempts that failed in a row, which BalanceLeastRequests
// weighs. It is safe for concurrent use.
type Load struct {
	inFlight atomic.Int64
	failed   atomic.Int64
}

// Start counts a request sent to the endpoint; call Done when its answer
// ends.
func (l *Load) Start() { l.inFlight.Add(1) }

// Done counts the end of a request Start counted.
func (l *Load) Done() { l.inFlight.Add(-1) }

// InFlight returns the requests in flight to the endpoint.
func (l *Load) InFlight() int64 { return l.inFlight.Load() }

// Result counts the outcome of an attempt at the endpoint: a failure (no
// answer, a timeout, a 5xx, a stream broken before its first event) adds
// to its failures in a row, any answer clears them.
func (l *Load) Result(failed bool) {
	if failed {
		l.failed.Add(1)
	} else if l.failed.Load() != 0 {
		l.failed.Store(0) // written only when set: the line stays shared
	}
}

// Failures returns the endpoint's attempts that failed in a row, as Result
// counted them.
func (l *Load) Failures() int64 { return l.failed.Load() }

// weight is what BalanceLeastRequests compares.
func (l *Load) weight() int64 { return l.inFlight.Load() + min(l.failed.Load(), failPenalty) }

// Loads holds each endpoint's (backend base URL's) Load. It outlives the
// Tables built with it (Options.Loads), so a rebuild, which happens on
// every change, keeps the counts, and a request that started under an
// older Table lowers the same count it raised. An endpoint shared by
// several versions has one Load. The zero Loads is ready to use and safe
// for concurrent use.
//
// The map from endpoint to Load is copied on write: Build finds the
// Loads, and the request path only reads and adds to the Load its Target
// already holds.
type Loads struct {
	m cowmap.Map[string, Load]
}

// Of returns the Load of endpoint, made on first use.
func (l *Loads) Of(endpoint string) *Load { return l.m.Get(endpoint) }

// InFlight returns the requests in flight to endpoint.
func (l *Loads) InFlight(endpoint string) int64 {
	if c := l.m.Lookup(endpoint); c != nil {
		return c.InFlight()
	}
	return 0
}

// Choose returns the index in Endpoints of the endpoint the next request
// to t goes to, by the Table's Balance over the live endpoints (those
// health checks have not found down; every endpoint when none is up), or
// -1 when t has none. With one live endpoint it is that one. The caller
// counts the request on Load(i) while it is in flight (Start, Done) and
// tells it the outcome (Result). It takes no
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
	// 32 bits, b from the next 31, each scaled by a multiply and a shift
	// rather than a division, the top bit breaking a tie, so idle
	// endpoints share the traffic evenly.
	r := rand.Uint64()
	a := int((r & 0xffffffff) * uint64(n) >> 32)
	b := int((r >> 32 & 0x7fffffff) * uint64(n-1) >> 31)
	if b >= a {
		b++
	}
	ia, ib := t.live[a], t.live[b]
	la, lb := t.loads[ia].weight(), t.loads[ib].weight()
	if lb < la || lb == la && r>>63 != 0 {
		return ib
	}
	return ia
}

// ChooseOther returns the index in Endpoints of the least busy live
// endpoint other than Endpoints[skip] (Load's weight: in flight and
// failures in a row), or -1 when there is none. It is for sending a
// request again to another replica of the same version when the first
// refused the connection, so nothing was sent: the choice is deliberate,
// not drawn, whatever the Balance. It runs only on that error path.
func (t *Target) ChooseOther(skip int) int {
	best, bw := -1, int64(0)
	for _, i := range t.live {
		if i == skip {
			continue
		}
		if w := t.loads[i].weight(); best < 0 || w < bw {
			best, bw = i, w
		}
	}
	return best
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

// Load returns the Load of Endpoints[i], from the Table's Loads: an
// endpoint has the same Load in every Table built with the same Loads, and
// in every version that lists it.
func (t *Target) Load(i int) *Load { return t.loads[i] }
