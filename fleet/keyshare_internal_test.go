package fleet

import (
	"math"
	"strconv"
	"testing"
)

// near reports whether got is want to within a millionth.
func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

// one is a history of a single published demand.
func one(keys map[string]float64) []Demand { return []Demand{{Keys: keys}} }

// sharesOf returns each replica's share of key, each computing from its
// own demand and the others' as they published it (all alike: the
// steady state), the older replicas (nil) enforcing an even share.
func sharesOf(key string, replicas ...[]Demand) []float64 {
	out := make([]float64, len(replicas))
	for i, own := range replicas {
		n := len(replicas)
		if own == nil {
			out[i] = 1 / float64(n)
			continue
		}
		var others [][]Demand
		for j, d := range replicas {
			if j != i {
				others = append(others, d)
			}
		}
		s, ok := keyShares(own, others)[key]
		if !ok {
			s = 1 / float64(n) // no demand anywhere: even
		}
		out[i] = s
	}
	return out
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

// TestKeyShares: the share arithmetic, exactly. A key's share on a
// replica is (1-λ)·d/D + λ/n of its limits (λ = evenPart, a tenth): its
// demand's part of the fleet's, with a tenth of the limits split evenly
// as a floor, so that a replica the key has not reached yet still lets
// its requests in. The shares across the replicas sum to 1.
func TestKeyShares(t *testing.T) {
	for _, c := range []struct {
		name     string
		replicas [][]Demand
		want     []float64
	}{
		{"Even", [][]Demand{one(map[string]float64{"k": 5}), one(map[string]float64{"k": 5}), one(map[string]float64{"k": 5})},
			[]float64{1.0 / 3, 1.0 / 3, 1.0 / 3}},
		// All demand on one replica of two: 0.9 + 0.05 there, the
		// floor's 0.05 on the other.
		{"Skewed", [][]Demand{one(map[string]float64{"k": 20}), one(map[string]float64{})},
			[]float64{0.95, 0.05}},
		{"SkewedOfThree", [][]Demand{one(map[string]float64{"k": 20}), one(nil), one(map[string]float64{"other": 3})},
			[]float64{0.9 + 0.1/3, 0.1 / 3, 0.1 / 3}},
		{"ThreeToOne", [][]Demand{one(map[string]float64{"k": 30}), one(map[string]float64{"k": 10})},
			[]float64{0.9*0.75 + 0.05, 0.9*0.25 + 0.05}},
		// No demand anywhere: the even share.
		{"NoDemand", [][]Demand{one(map[string]float64{"other": 1}), one(map[string]float64{})},
			[]float64{0.5, 0.5}},
		// A replica that just started (no demand published yet, an
		// empty history) holds the floor, as one the key has not reached.
		{"NewReplica", [][]Demand{one(map[string]float64{"k": 8}), one(map[string]float64{"k": 8}), {}},
			[]float64{0.9*0.5 + 0.1/3, 0.9*0.5 + 0.1/3, 0.1 / 3}},
		// An older replica (nil: its beat says no demand) enforces the
		// even share, a third; the others split the rest by demand.
		{"OlderReplica", [][]Demand{one(map[string]float64{"k": 9}), one(map[string]float64{"k": 3}), nil},
			[]float64{2.0 / 3 * (0.9*0.75 + 0.05), 2.0 / 3 * (0.9*0.25 + 0.05), 1.0 / 3}},
		// A capped beat leaves the key out: it counts at that beat's rest.
		{"Capped", [][]Demand{one(map[string]float64{"k": 3}), {{Keys: map[string]float64{"busy": 50}, Rest: 1}}},
			[]float64{0.9*0.75 + 0.05, 0.9*0.25 + 0.05}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := sharesOf("k", c.replicas...)
			for i := range got {
				if !near(got[i], c.want[i]) {
					t.Errorf("replica %d's share %v, want %v (all %v)", i, got[i], c.want[i], got)
				}
			}
			if s := sum(got); !near(s, 1) {
				t.Errorf("the shares %v sum to %v, want 1", got, s)
			}
		})
	}
}

// TestShareHistory: while a key's demand moves from one replica to
// another, or starts, each replica weighs the generation both have
// published, and enforces the lesser of its shares there and a
// generation before: whether both read the other's latest beat (written
// within half an Interval of the boundary), both a generation late, or
// one late and the other not (a beat written over half an Interval late),
// the shares sum to at most 1 at every weighing, a key starting spread
// keeps half on each, and a steady demand gives the exact shares.
func TestShareHistory(t *testing.T) {
	// Each replica's smoothed demand, a beat at a time (DemandTau 2 s,
	// beats a second apart), from the requests arriving there.
	smooth := func(arrive func(beat int) float64) []float64 {
		out := make([]float64, 30)
		for i := 1; i < len(out); i++ {
			out[i] = out[i-1] + (1-math.Exp(-0.5))*(arrive(i)-out[i-1])
		}
		return out
	}
	step := func(before, after float64) func(int) float64 {
		return func(beat int) float64 {
			if beat < 5 {
				return before
			}
			return after
		}
	}
	// history is a replica's published demand up to beat, as a reader
	// lag generations behind holds it.
	history := func(demand []float64, beat, lag int) []Demand {
		var h []Demand
		for g := max(beat-lag-demandHistory+1, 0); g <= beat-lag; g++ {
			h = remember(h, Demand{Keys: map[string]float64{"k": demand[g]}, Epoch: int64(g)})
		}
		return h
	}
	for _, c := range []struct {
		name string
		a, b []float64
		// wantA, wantB are the shares once steady.
		wantA, wantB float64
	}{
		{"Move", smooth(step(10, 0)), smooth(step(0, 10)), 0.05, 0.95},
		{"HalfMove", smooth(step(10, 5)), smooth(step(0, 5)), 0.5, 0.5},
		{"StartSpread", smooth(step(0, 5)), smooth(step(0, 5)), 0.5, 0.5},
		{"StartPinned", smooth(step(0, 10)), smooth(step(0, 0)), 0.95, 0.05},
	} {
		for _, lag := range [][2]int{{0, 0}, {1, 1}, {1, 0}, {0, 1}} {
			var sa, sb float64
			for beat := 0; beat < len(c.a); beat++ {
				sa = shareOf(keyShares(history(c.a, beat, 0), [][]Demand{history(c.b, beat, lag[0])}), 2)
				sb = shareOf(keyShares(history(c.b, beat, 0), [][]Demand{history(c.a, beat, lag[1])}), 2)
				if c.name == "StartSpread" && (!near(sa, 0.5) || !near(sb, 0.5)) {
					t.Errorf("%s, beats read %v late: at beat %d the shares %.3f and %.3f, want half each", c.name, lag, beat, sa, sb)
				}
				if sa+sb > 1+1e-9 {
					t.Errorf("%s, beats read %v late: at beat %d the shares %.3f + %.3f = %.3f, over 1", c.name, lag, beat, sa, sb, sa+sb)
				}
			}
			if math.Abs(sa-c.wantA) > 0.01 || math.Abs(sb-c.wantB) > 0.01 {
				t.Errorf("%s, beats read %v late: steady shares %.3f and %.3f, want %v and %v", c.name, lag, sa, sb, c.wantA, c.wantB)
			}
		}
	}
}

// shareOf is the share of key "k" in shares, the even one if absent.
func shareOf(shares map[string]float64, n int) float64 {
	if w, ok := shares["k"]; ok {
		return w
	}
	return 1 / float64(n)
}

// TestCapDemand: a beat carries at most MaxDemandKeys keys, the busiest,
// and the least of them as what the keys left out count at.
func TestCapDemand(t *testing.T) {
	keys := map[string]float64{}
	for i := range MaxDemandKeys + 10 {
		keys["key-"+strconv.Itoa(i)] = float64(i + 1)
	}
	d := capDemand(keys)
	if len(d.Keys) != MaxDemandKeys {
		t.Fatalf("capped to %d keys, want %d", len(d.Keys), MaxDemandKeys)
	}
	if d.Rest != 11 {
		t.Errorf("rest %v, want 11: the least of the busiest %d kept", d.Rest, MaxDemandKeys)
	}
	small := capDemand(map[string]float64{"a": 1})
	if len(small.Keys) != 1 || small.Rest != 0 {
		t.Errorf("a beat under the cap: %+v, want its key and rest 0", small)
	}
}

// pub is a history of one demand published at beat generation epoch.
func pub(epoch int64, keys map[string]float64) Demand { return Demand{Keys: keys, Epoch: epoch} }

// TestKeyShares_SameGeneration: every replica weighs every replica's
// demand at the same beat generation, the latest they all have, not each
// one's latest: a replica whose beat is a generation behind another's
// (beats written at different moments of the second) would otherwise
// weigh its own older demand against the other's newer one. A key whose
// requests start spread over two replicas, seen first in b's newer beat,
// got a 0.05 share on a, held for 4 weighings; a key whose demand rises
// on both got less than half on the one measured earlier.
func TestKeyShares_SameGeneration(t *testing.T) {
	// a has published generation 5 (no demand yet); b has published 5
	// and 6 (the key's first requests): a and b both weigh generation 5,
	// where the key has no demand: the even share on both.
	a := []Demand{pub(4, map[string]float64{}), pub(5, map[string]float64{})}
	b := []Demand{pub(4, map[string]float64{}), pub(5, map[string]float64{}), pub(6, map[string]float64{"k": 2})}
	if s, ok := keyShares(a, [][]Demand{b})["k"]; ok {
		t.Errorf("a, a generation behind b: share %v, want the even one (no demand at generation 5)", s)
	}
	if s, ok := keyShares(b, [][]Demand{a})["k"]; ok {
		t.Errorf("b, a generation ahead of a: share %v, want the even one (no demand at generation 5)", s)
	}
	// Demand rising on both, a a generation behind: both weigh
	// generation 6, where it was even.
	a = append(a, pub(6, map[string]float64{"k": 2}))
	b = append(b, pub(7, map[string]float64{"k": 4}))
	sa, sb := keyShares(a, [][]Demand{b})["k"], keyShares(b, [][]Demand{a})["k"]
	if !near(sa, 0.5) || !near(sb, 0.5) {
		t.Errorf("a key rising on both, a a generation behind: shares %v and %v, want 0.5 and 0.5", sa, sb)
	}
	// A replica whose beats stopped a while ago (within the expiry)
	// counts at its latest; the others weigh the oldest generation all
	// of them hold, alike.
	stale := []Demand{pub(2, map[string]float64{"k": 1})}
	c := []Demand{pub(4, map[string]float64{"k": 1}), pub(5, map[string]float64{"k": 1}), pub(6, map[string]float64{"k": 1}), pub(7, map[string]float64{"k": 3})}
	d := []Demand{pub(4, map[string]float64{"k": 3}), pub(5, map[string]float64{"k": 3}), pub(6, map[string]float64{"k": 3}), pub(7, map[string]float64{"k": 1})}
	sc, sd := keyShares(c, [][]Demand{d, stale})["k"], keyShares(d, [][]Demand{c, stale})["k"]
	ss := keyShares(stale, [][]Demand{c, d})["k"]
	if !near(sc+sd+ss, 1) || !near(sc, 0.9*0.2+0.1/3) {
		t.Errorf("with a stale replica: shares %v, %v and %v, want 0.9·1/5+0.1/3 on c and a sum of 1", sc, sd, ss)
	}
}
