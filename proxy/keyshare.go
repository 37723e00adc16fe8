package proxy

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// KeyShare is how the gateway replicas share each client key's limits
// (rate_limit, burst, tokens_per_minute): each enforces its share, so
// that the fleet allows a key about the limit its operator wrote, not the
// limit times the replicas. The share of a key is weighted by where its
// requests arrive (SetWeighted, from the replicas' beats: fleet.Drain),
// and even, 1/n of the limits, for a key with no demand anywhere and
// before the first weighing.
//
// The share is a cost, not a smaller bucket: with a share s a request
// (or a token) costs 1/s times what it costs alone, and the bucket's
// tolerance (the burst's worth of time, burst × interval) is unchanged,
// since the burst's share times the interval over the share is the same
// time. So a change of the share keeps each key's bucket where it was (the
// time it is ahead of the clock), and it refills at the new share's rate
// from then on. A burst smaller than the replicas still lets one request
// through on each (the tolerance is never less than one request's cost).
//
// Each key's share is pushed into its keyState (one atomic word) in the
// background, so the request path reads it with one atomic load, and
// counts the key's arrivals with one atomic add (Demand reads them). A
// nil KeyShare, and one never set, counts one replica: the whole limit.
type KeyShare struct {
	n atomic.Int64
	// mu orders the pushes of the shares into the keys (SetWeighted,
	// KeySet.SetShare) and guards what Demand keeps; neither is on the
	// request path.
	mu sync.Mutex
	// shares is this replica's share of each key weighted by demand (the
	// keys with demand somewhere); a key not in it has the even share.
	shares map[string]float64
	// keys is the KeySet last given this share (the one in force: the
	// server builds a KeySet only to put it in force).
	keys *KeySet
	// demand is each key's smoothed arrivals a second, as Demand last
	// measured them at sampled.
	demand  map[string]float64
	sampled time.Time
}

// NewKeyShare returns a KeyShare of one replica.
func NewKeyShare() *KeyShare {
	s := &KeyShare{}
	s.n.Store(1)
	return s
}

// Set says that replicas live replicas (this one included) share the
// keys' limits evenly; less than 1 counts as 1.
func (s *KeyShare) Set(replicas int) { s.SetWeighted(replicas, nil) }

// SetWeighted says that replicas live replicas (this one included) share
// the keys' limits, this one holding shares[name] of the key of that name
// (weighted by its demand on each replica: fleet.Drain.ShareLimits), and
// 1/replicas of a key not in shares. A share is taken between 1/10⁹ and 1.
func (s *KeyShare) SetWeighted(replicas int, shares map[string]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n.Store(int64(max(replicas, 1)))
	s.shares = shares
	s.apply(s.keys)
}

// apply pushes the shares into the keys of ks; s.mu is held.
func (s *KeyShare) apply(ks *KeySet) {
	if ks == nil {
		return
	}
	n := float64(s.replicas())
	for _, k := range ks.byHash {
		scale := n
		if w, ok := s.shares[k.name]; ok {
			scale = 1 / min(max(w, 1e-9), 1)
		}
		k.scale.Store(math.Float64bits(scale))
	}
}

// Replicas returns how many replicas share the keys' limits: 1 for a
// replica alone (or a nil KeyShare).
func (s *KeyShare) Replicas() int { return int(s.replicas()) }

// Share returns this replica's share of the limits of the key of that
// name: weighted by demand, or 1/Replicas for a key with none anywhere.
func (s *KeyShare) Share(name string) float64 {
	if s == nil {
		return 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if w, ok := s.shares[name]; ok {
		return min(max(w, 1e-9), 1)
	}
	return 1 / float64(s.replicas())
}

// Weighted returns this replica's share of each key's limits that is
// weighted by demand (the keys with demand somewhere), a copy.
func (s *KeyShare) Weighted() map[string]float64 {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]float64, len(s.shares))
	for k, w := range s.shares {
		out[k] = min(max(w, 1e-9), 1)
	}
	return out
}

// DemandTau is the time constant of Demand's smoothing: an exponentially
// weighted average of each key's arrivals a second, so a second's burst
// moves it by 39% of the way (1-e^(-1/2)) and a key that moves reaches 86%
// of its new demand in 4 s.
const DemandTau = 2 * time.Second

// minDemand is the smoothed demand (requests a second) below which a key
// counts as none: one request alone is forgotten about 7 s later, so an
// idle fleet publishes no key.
const minDemand = 0.01

// Demand measures, at now, the demand on this replica of each client key
// with a limit: the requests that arrived for it since the last call
// (admitted or refused by its limits: a replica whose share is small
// still sees what it is asked, or it would stay small), a second,
// smoothed by an exponentially weighted average (DemandTau), which needs
// no history per key, takes calls at any pace and fades a key that stops
// rather than dropping it. Keys with less than minDemand are left out.
// It returns a new map; call it from one goroutine at a steady pace (a
// beat interval). The first call only starts the count.
func (s *KeyShare) Demand(now time.Time) map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	dt := now.Sub(s.sampled).Seconds()
	first := s.sampled.IsZero()
	if !first && dt <= 0 {
		return s.copyDemand()
	}
	s.sampled = now
	arrived := map[string]float64{}
	if ks := s.keys; ks != nil {
		for _, k := range ks.byHash {
			if k.interval > 0 || k.tokenCost > 0 {
				if c := k.arrived.Swap(0); c > 0 {
					arrived[k.name] += float64(c)
				}
			}
		}
	}
	if first {
		return map[string]float64{}
	}
	alpha := 1 - math.Exp(-dt/DemandTau.Seconds())
	next := make(map[string]float64, len(s.demand)+len(arrived))
	for name, c := range arrived {
		next[name] = s.demand[name] + alpha*(c/dt-s.demand[name])
	}
	for name, d := range s.demand {
		if _, ok := arrived[name]; !ok {
			next[name] = d * (1 - alpha)
		}
	}
	for name, d := range next {
		if d < minDemand {
			delete(next, name)
		}
	}
	s.demand = next
	return s.copyDemand()
}

func (s *KeyShare) copyDemand() map[string]float64 {
	out := make(map[string]float64, len(s.demand))
	for k, d := range s.demand {
		out[k] = d
	}
	return out
}

// sharedText is what a 429 adds to the limit it names: " shared by 3
// replicas" when several share it, so the client knows the limit is the
// fleet's, each replica holding its share; "" for one.
func (s *KeyShare) sharedText() string {
	if n := s.replicas(); n > 1 {
		return " shared by " + strconv.FormatInt(n, 10) + " replicas"
	}
	return ""
}

func (s *KeyShare) replicas() int64 {
	if s == nil {
		return 1
	}
	return max(s.n.Load(), 1)
}

// sharedCost is what cost (ns of a bucket, for a request or a token)
// costs a replica holding a share of the limit: scale (1/share, at least
// 1) times it, so that the replica refills at its share of the limit's
// rate. It saturates at maxSharedCost rather than overflow (a tiny rate
// on a tiny share).
func sharedCost(cost int64, scale float64) int64 {
	if scale <= 1 {
		return cost
	}
	if c := float64(cost) * scale; c < maxSharedCost {
		return int64(c)
	}
	return maxSharedCost
}

// maxSharedCost bounds sharedCost: about 146 years, which leaves room to
// add it to a clock reading (ns since the epoch) without overflow.
const maxSharedCost = math.MaxInt64 / 2
