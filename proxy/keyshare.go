package proxy

import (
	"math"
	"strconv"
	"sync/atomic"
)

// KeyShare is how many gateway replicas share each client key's limits
// (rate_limit, burst, tokens_per_minute): each enforces an even share,
// the limit divided by the replicas, so that the fleet allows a key about
// the limit its operator wrote, not the limit times the replicas.
//
// The share is a cost, not a smaller bucket: with n replicas a request
// (or a token) costs n times what it costs alone, and the bucket's
// tolerance (the burst's worth of time, burst × interval) is unchanged,
// since the burst's nth times the interval's n is the same time. So a
// change of n keeps each key's bucket where it was (the time it is ahead
// of the clock), and it refills at the new share's rate from then on. A
// burst smaller than the replicas still lets one request through on each
// (the tolerance is never less than one request's cost).
//
// The server sets it from the replicas' beats in the background; the
// request path reads it with one atomic load. A nil KeyShare, and one
// never set, counts one replica: the whole limit.
type KeyShare struct {
	n atomic.Int64
}

// NewKeyShare returns a KeyShare of one replica.
func NewKeyShare() *KeyShare {
	s := &KeyShare{}
	s.n.Store(1)
	return s
}

// Set says that replicas live replicas (this one included) share the
// keys' limits; less than 1 counts as 1.
func (s *KeyShare) Set(replicas int) { s.n.Store(int64(max(replicas, 1))) }

// Replicas returns how many replicas share the keys' limits: 1 for a
// replica alone (or a nil KeyShare).
func (s *KeyShare) Replicas() int { return int(s.replicas()) }

// acrossText is what a 429 adds to the limit it names: " across 3
// replicas" when several share it, so the client knows the limit is the
// fleet's, each replica holding its share; "" for one.
func (s *KeyShare) acrossText() string {
	if n := s.replicas(); n > 1 {
		return " across " + strconv.FormatInt(n, 10) + " replicas"
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
// costs one of n replicas sharing the limit evenly: n times it, so that
// the replica refills at the limit's nth. It saturates at maxSharedCost
// rather than overflow (a tiny rate on many replicas).
func sharedCost(cost, n int64) int64 {
	if n <= 1 {
		return cost
	}
	if cost > maxSharedCost/n {
		return maxSharedCost
	}
	return cost * n
}

// maxSharedCost bounds sharedCost: about 146 years, which leaves room to
// add it to a clock reading (ns since the epoch) without overflow.
const maxSharedCost = math.MaxInt64 / 2
