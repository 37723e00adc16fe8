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

// TestKeyShares_Moving: while a key's demand moves from one replica to
// another, each replica reads the others' beats up to a couple of
// intervals late. Taking its own demand as the least it published over
// the window and the others' as the most it read keeps the shares
// summing to at most 1 whichever beats each has seen, at the cost of
// trailing the move by the window.
func TestKeyShares_Moving(t *testing.T) {
	// The key's demand, a beat at a time, on a and on b: it moves from
	// a to b.
	a := []float64{10, 10, 10, 6, 3, 1, 0, 0, 0, 0}
	b := []float64{0, 0, 0, 4, 7, 9, 10, 10, 10, 10}
	hist := func(d []float64, upto int) []Demand {
		var out []Demand
		for i := max(0, upto-shareWindow+1); i <= upto; i++ {
			out = append(out, Demand{Keys: map[string]float64{"k": d[i]}})
		}
		return out
	}
	for ta := shareWindow; ta < len(a); ta++ {
		for lag := 0; lag <= 2; lag++ {
			// a computes at beat ta, b at the same beat, each having
			// read the other's beats up to lag behind.
			sa := keyShares(hist(a, ta), [][]Demand{hist(b, ta-lag)})["k"]
			sb := keyShares(hist(b, ta), [][]Demand{hist(a, ta-lag)})["k"]
			if sa+sb > 1+1e-9 {
				t.Errorf("beat %d, read %d beats late: shares %v + %v = %v, over 1", ta, lag, sa, sb, sa+sb)
			}
		}
	}
	// Steady again: the exact shares.
	end := len(a) - 1
	if sb := keyShares(hist(b, end), [][]Demand{hist(a, end)})["k"]; !near(sb, 0.95) {
		t.Errorf("all demand on b for a window: b's share %v, want 0.95", sb)
	}
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
