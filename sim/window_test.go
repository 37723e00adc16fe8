package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
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

func TestTimeline_Last(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, window := range []int{0, 1, 5, 30} {
		var l timeline
		for round := range 3 {
			l.reset()
			var perSecond [][]float64
			for sec := range 200 {
				var lat []float64
				for range rng.IntN(6) {
					v := float64(rng.IntN(50)) // ties on purpose
					l.record(&fakellm.Outcome{Status: 200, Latency: time.Duration(v) * time.Millisecond}, false, false)
					lat = append(lat, v)
				}
				l.tick()
				perSecond = append(perSecond, lat)
				if rng.IntN(3) > 0 {
					continue // not every second is looked at
				}
				from := 0
				if window > 0 && window < len(perSecond) {
					from = len(perSecond) - window
				}
				var want []float64
				for _, s := range perSecond[from:] {
					want = append(want, s...)
				}
				slices.Sort(want)
				a := l.last(window)
				if !a.Sorted || !slices.Equal(a.Latency, want) {
					t.Fatalf("window %d, round %d, second %d: latency %v, want %v", window, round, sec, a.Latency, want)
				}
			}
		}
	}
}
