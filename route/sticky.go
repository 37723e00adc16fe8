package route

import (
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice"
)

// Buckets is the number of sticky buckets a split divides; a weight of one
// basis point (0.01%) owns one bucket.
const Buckets = 10000

// segment is a run of buckets served by one version: from the previous
// segment's upto to its own upto (exclusive).
type segment struct {
	target *Target
	upto   int32
}

// compileSplit turns the configured weights into bucket segments. Each
// member owns a contiguous range of buckets in the order of the split, sized
// by its weight. The range of a member that cannot take traffic (unhealthy,
// retired or unregistered) is divided among the members that can, in
// proportion to their weights, so their shares are renormalised while their
// own users stay where they are: ejecting a flapping backend moves only that
// backend's users, and they come back when it recovers. If every servable
// member is unhealthy, the servable members keep the split as configured.
func compileSplit(ws []sluice.Weight, versions map[string]*entry) []segment {
	type weighted struct {
		target *Target // nil when the member cannot serve
		basis  int
	}
	var members []weighted
	total, servable, healthy := 0, 0, 0
	for _, w := range ws {
		b := sluice.Basis(w.Percent)
		if b <= 0 {
			continue
		}
		var target *Target
		if e := versions[w.Version]; e != nil {
			target = e.target
		}
		members = append(members, weighted{target, b})
		total += b
		if target != nil {
			servable += b
			if target.Healthy {
				healthy += b
			}
		}
	}
	if servable == 0 {
		return nil
	}
	takes := func(t *Target) bool { return t != nil && (t.Healthy || healthy == 0) }
	takers := servable
	if healthy > 0 {
		takers = healthy
	}

	var out []segment
	add := func(t *Target, upto int) {
		if n := len(out); n > 0 && out[n-1].target == t {
			out[n-1].upto = int32(upto)
			return
		}
		if n := len(out); upto > 0 && (n == 0 || int(out[n-1].upto) < upto) {
			out = append(out, segment{t, int32(upto)})
		}
	}
	cum, lo := 0, 0
	for _, m := range members {
		cum += m.basis
		// Rounding the cumulative bound keeps the ranges contiguous and ends
		// the last one exactly at Buckets, whatever the weights sum to.
		hi := (cum*Buckets + total/2) / total
		if takes(m.target) {
			add(m.target, hi)
		} else {
			sub := 0
			for _, o := range members {
				if takes(o.target) {
					sub += o.basis
					add(o.target, lo+(sub*(hi-lo)+takers/2)/takers)
				}
			}
		}
		lo = hi
	}
	return out
}

// shares returns the buckets each version of a split serves.
func shares(split []segment) map[*Target]int {
	s := map[*Target]int{}
	lo := int32(0)
	for _, sg := range split {
		s[sg.target] += int(sg.upto - lo)
		lo = sg.upto
	}
	return s
}

// pick returns the version serving bucket.
func pick(split []segment, bucket int) *Target {
	for i := range split {
		if int32(bucket) < split[i].upto {
			return split[i].target
		}
	}
	return split[len(split)-1].target
}

// hashBuf is the size of the stack buffer that salt, separator and key are
// hashed from in one call; longer inputs go through a streaming digest,
// which gives the same hash more slowly.
const hashBuf = 128

// hash returns the sticky hash of key under the model's salt:
// xxhash64(salt + "\x00" + key).
func (m *model) hash(key string) uint64 {
	if len(m.saltPrefix)+len(key) <= hashBuf {
		var b [hashBuf]byte
		n := copy(b[:], m.saltPrefix)
		n += copy(b[n:], key)
		return xxhash.Sum64(b[:n])
	}
	d := m.digest
	d.WriteString(key)
	return d.Sum64()
}

func (m *model) setSalt(salt string) {
	m.saltPrefix = salt + "\x00"
	m.digest.Reset()
	m.digest.WriteString(m.saltPrefix)
}

// StickyBucket returns the bucket, 0 to Buckets-1, that key falls in under
// salt: xxhash64(salt + "\x00" + key) % Buckets. The routing of a split uses
// the same formula with the policy's salt (the model name when the salt is
// empty); it is exported for tools that recompute cohorts offline.
func StickyBucket(salt, key string) int {
	m := &model{}
	m.setSalt(salt)
	return int(m.hash(key) % Buckets)
}

// randomBucket returns a uniformly random bucket for a request without a
// sticky key. The top-level math/rand/v2 functions use a per-thread
// generator: no lock, no allocation.
func randomBucket() int { return rand.IntN(Buckets) }
