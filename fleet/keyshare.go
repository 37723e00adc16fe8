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

// shareWindow is how many beats each replica's demand is read over: its
// own as the least it published in its last shareWindow beats, another's
// as the most this replica read of it in its last shareWindow reads.
// Another replica reads a beat up to about two intervals after it is
// written (one to be written, one to be read), and computes its shares up
// to an interval apart from this one: a window of 4 always overlaps what
// the other used for itself, so each replica takes every other's demand
// as at least what that one took for itself, and the shares sum to at
// most 1 while a key's demand moves; a steady demand gives the exact
// shares.
const shareWindow = 4

// keyShares returns this replica's share of each key's limits that has
// demand anywhere, from its own last beats' demand (own, oldest first)
// and the other live replicas' (those draining left out), each as this
// replica read its last beats: nil for an older replica, whose beat says
// no demand and which enforces an even share. With n live replicas, m of
// them older, a key with demand D across the others and this one's d
// (own: the least of its window; another's: the most of its window)
// gets
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
		d := least(own, key)
		total := d
		for _, h := range others {
			if h != nil {
				total += most(h, key)
			}
		}
		if total <= 0 {
			continue
		}
		out[key] = float64(newer) / float64(n) * ((1-evenPart)*d/total + evenPart/float64(newer))
	}
	return out
}

// least is the least demand of key over h (0 for none).
func least(h []Demand, key string) float64 {
	if len(h) == 0 {
		return 0
	}
	v := h[0].of(key)
	for _, d := range h[1:] {
		v = min(v, d.of(key))
	}
	return v
}

// most is the most demand of key over h (0 for none).
func most(h []Demand, key string) float64 {
	v := 0.0
	for _, d := range h {
		v = max(v, d.of(key))
	}
	return v
}
