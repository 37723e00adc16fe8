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
	// Epoch is the beat generation the demand was measured at: the
	// Interval boundary of the clock (Drain.epoch), the same on every
	// replica, so that all weigh the same generation (keyShares).
	Epoch int64
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

// demandHistory is how many of a replica's last beat generations a
// replica keeps (its own as written, the others' as read), so that it can
// weigh a generation another replica has moved past (keyShares).
const demandHistory = 3

// keyShares returns this replica's share of the limits of each key that
// has demand anywhere, from its own last beats' demand (own, oldest
// first) and the other live replicas' (those draining left out), each as
// this replica read them: nil for an older replica, whose beat says no
// demand and which enforces an even share.
//
// Every replica weighs the same beat generation (generation): each
// measures its demand at the clock's Interval boundaries and weighs half
// an Interval later, so all of them read the same beats and their shares
// of a key sum to 1 even while its demand moves or rises. Weighing each
// replica's latest instead put a demand measured up to a second later
// against an older one: the replica measured earlier got less than its
// due (a key starting spread over two, first seen in the other's beat,
// got 0.05 there), the other more. A beat written (or read) over half an
// Interval late has one replica weigh a generation behind the others: so
// each enforces the lesser of its shares at that generation and the one
// before, and the shares still sum to at most 1 (those of the generation
// all of them weighed), at the cost of a share rising an Interval later.
//
// With n live replicas, m of them older, a key with demand D across all
// and this one's d gets
//
//	(n-m)/n × ((1-λ)·d/D + λ/(n-m))
//
// so the older replicas' even shares and the others' sum to 1. A key
// with no demand anywhere is left out: it keeps the even share, 1/n.
func keyShares(own []Demand, others [][]Demand) map[string]float64 {
	g := generation(own, others)
	now, before := sharesAt(own, others, g), sharesAt(own, others, g-1)
	even := 1 / float64(1+len(others))
	for key, w := range before {
		if v, ok := now[key]; ok {
			now[key] = min(v, w)
		} else {
			now[key] = min(even, w)
		}
	}
	for key, v := range now {
		if _, ok := before[key]; !ok {
			now[key] = min(even, v)
		}
	}
	return now
}

// sharesAt returns this replica's shares (keyShares) from every replica's
// demand at generation g.
func sharesAt(own []Demand, others [][]Demand, g int64) map[string]float64 {
	n, older := 1+len(others), 0
	mine := at(own, g)
	theirs := make([]Demand, 0, len(others))
	keys := map[string]bool{}
	for k := range mine.Keys {
		keys[k] = true
	}
	for _, h := range others {
		if h == nil {
			older++
			continue
		}
		d := at(h, g)
		theirs = append(theirs, d)
		for k := range d.Keys {
			keys[k] = true
		}
	}
	newer := n - older
	out := make(map[string]float64, len(keys))
	for key := range keys {
		d := mine.of(key)
		total := d
		for _, o := range theirs {
			total += o.of(key)
		}
		if total <= 0 {
			continue
		}
		out[key] = float64(newer) / float64(n) * ((1-evenPart)*d/total + evenPart/float64(newer))
	}
	return out
}

// generation returns the beat generation every replica weighs: the
// oldest latest generation among the replicas (own and others; an older
// replica, nil, and one that has published none left out), but at most
// one behind the newest, so that a replica whose beats stopped, still
// within the expiry, counts at its latest rather than holding everyone's
// weighing back. Replicas that read the same beats find the same one.
func generation(own []Demand, others [][]Demand) int64 {
	newest, oldest, any := int64(0), int64(0), false
	for _, h := range append([][]Demand{own}, others...) {
		if len(h) == 0 {
			continue
		}
		e := h[len(h)-1].Epoch
		if !any {
			newest, oldest, any = e, e, true
		}
		newest, oldest = max(newest, e), min(oldest, e)
	}
	return max(oldest, newest-1)
}

// at returns the demand h published at generation g: its latest at or
// before g, else its oldest (none for an empty h).
func at(h []Demand, g int64) Demand {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Epoch <= g {
			return h[i]
		}
	}
	if len(h) == 0 {
		return Demand{}
	}
	return h[0]
}

// remember returns h with d appended as its latest generation (replacing
// an entry of the same or a later generation, as after the clock stepped
// back), at most demandHistory long.
func remember(h []Demand, d Demand) []Demand {
	for len(h) > 0 && h[len(h)-1].Epoch >= d.Epoch {
		h = h[:len(h)-1]
	}
	h = append(h, d)
	if len(h) > demandHistory {
		h = slices.Delete(h, 0, len(h)-demandHistory)
	}
	return h
}
