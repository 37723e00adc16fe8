package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSortedSeries_Sorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var x sortedSeries
	var all []float64
	for range 50 {
		for range rng.IntN(40) {
			v := float64(rng.IntN(100)) // ties on purpose
			x.add(v)
			all = append(all, v)
		}
		got := x.sorted()
		want := slices.Clone(all)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("sorted = %v, want %v", got, want)
		}
	}
}
