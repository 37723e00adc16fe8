package fleet

import (
	"maps"
	"slices"
)

// Demand is what one beat says of a replica's demand per client key with
// a shared limit: the requests a second arriving for the key there
// (admitted or refused), smoothed. Keys holds the keys with demand, at
// most MaxDemandKeys, the busiest; a key it leaves out counts at Rest
// (0 when none was left out).
type Demand struct {
	Keys map[string]float64
	Rest float64
}

// of returns the demand d says key has.
func (d Demand) of(key string) float64 {
	if v, ok := d.Keys[key]; ok {
		return v
	}
	return d.Rest
}

// MaxDemandKeys bounds the keys a beat carries: a fleet with 10,000 busy
// keys writes the 1,000 busiest in each beat (about 40 kB of JSON a
// second a replica), and the others count at the least of those, an
// upper bound of what they had, so every replica reads the same values
// and the shares still sum to at most 1.
const MaxDemandKeys = 1000

// capDemand returns keys as a beat carries them: at most MaxDemandKeys,
// the busiest, the least of them as Rest when some were left out.
func capDemand(keys map[string]float64) Demand {
	if len(keys) <= MaxDemandKeys {
		return Demand{Keys: keys}
	}
	names := slices.Collect(maps.Keys(keys))
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case keys[a] > keys[b]:
			return -1
		case keys[a] < keys[b]:
			return 1
		}
		return 0
	})
	out := make(map[string]float64, MaxDemandKeys)
	for _, n := range names[:MaxDemandKeys] {
		out[n] = keys[n]
	}
	return Demand{Keys: out, Rest: keys[names[MaxDemandKeys-1]]}
}

// evenPart is the part of every key's limits split evenly among the live
// replicas whatever their demand (λ): a floor, so that a replica a key has
// not reached yet still admits its requests at λ/n of the limits (and its
// first at once, as a bucket always holds one request) until its demand
// is counted; a key whose requests all reach one replica gets 1-λ+λ/n of
// its limits there.
const evenPart = 0.1

// shareWindow is how many of its last computations of a key's share a
// replica takes the least of: a share falls at once and rises only once
// shareWindow computations a beat apart agree. Each replica reads the
// others' beats about an interval after they were written, so while a
// key's demand moves a replica would weigh its own fresh demand against
// another's stale one and find more than its due, while the other finds
// its own smaller only later: rising shareWindow (4) beats late, after
// the others' falls, keeps the shares of a key whose demand moves summing
// to at most 1. While a key's demand rises on several replicas at once
// (a key starting, spread), each weighs its own rising demand against the
// others' a beat behind, and the shares sum to at most 1.05 with beats
// read a beat late, 1.15 with beats read two late, for the seconds the
// rise lasts (TestShareHistory); weighing its own demand a beat behind
// too undershot such a key by a fifth for 5 to 8 s instead. A steady
// demand gives the exact shares, and a change of the live replicas starts
// afresh, so a replica that drains leaves its share to the others at
// once, as the even share did.
const shareWindow = 4

// keyShares returns this replica's share of each key's limits that has
// demand anywhere, from its own last beats' demand (own, oldest first)
// and the other live replicas' (those draining left out), each as this
// replica read its last beats: nil for an older replica, whose beat says
// no demand and which enforces an even share. The latest of each counts.
// With n live replicas, m of them older, a key with demand D across all
// and this one's d gets
//
//	(n-m)/n × ((1-λ)·d/D + λ/(n-m))
//
// so the older replicas' even shares and the others' sum to 1. A key
// with no demand anywhere is left out: it keeps the even share, 1/n.
func keyShares(own []Demand, others [][]Demand) map[string]float64 {
	n, older := 1+len(others), 0
	keys := map[string]bool{}
	for _, d := range own {
		for k := range d.Keys {
			keys[k] = true
		}
	}
	for _, h := range others {
		if h == nil {
			older++
			continue
		}
		for _, d := range h {
			for k := range d.Keys {
				keys[k] = true
			}
		}
	}
	newer := n - older
	out := make(map[string]float64, len(keys))
	for key := range keys {
		d := latest(own, key)
		total := d
		for _, h := range others {
			if h != nil {
				total += latest(h, key)
			}
		}
		if total <= 0 {
			continue
		}
		out[key] = float64(newer) / float64(n) * ((1-evenPart)*d/total + evenPart/float64(newer))
	}
	return out
}

// latest is the demand of key in the last of h (0 for none).
func latest(h []Demand, key string) float64 {
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].of(key)
}

// shareHistory holds a replica's last shareWindow computations of its
// shares (keyShares), for ShareLimits to enforce the least of each.
type shareHistory struct {
	n   int
	raw []map[string]float64
}

// add notes the shares raw computed with n live replicas (a key left out
// has the even share, 1/n) and returns the shares to enforce: each key's
// least over the last shareWindow computations, a key with the even
// share in all of them left out. A change of n starts afresh.
func (h *shareHistory) add(n int, raw map[string]float64) map[string]float64 {
	if n != h.n {
		h.n, h.raw = n, nil
	}
	h.raw = append(h.raw, raw)
	if len(h.raw) > shareWindow {
		h.raw = slices.Delete(h.raw, 0, len(h.raw)-shareWindow)
	}
	even := 1 / float64(n)
	out := map[string]float64{}
	for _, r := range h.raw {
		for k := range r {
			if _, ok := out[k]; ok {
				continue
			}
			v := 1.0
			for _, q := range h.raw {
				w, ok := q[k]
				if !ok {
					w = even
				}
				v = min(v, w)
			}
			out[k] = v
		}
	}
	return out
}
