package analysis

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestRunning_Summary checks that sums carried from look to look over a
// slice that grows at its end give, bit for bit, what summing it afresh
// gives, at every length and through the restarts.
func TestRunning_Summary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	same := func(t *testing.T, x []float64, m *momentSums) {
		t.Helper()
		got, want := m.summary(x), moments(x)
		if got.N != want.N || math.Float64bits(got.Mean) != math.Float64bits(want.Mean) || math.Float64bits(got.Variance) != math.Float64bits(want.Variance) {
			t.Fatalf("n=%d: running %+v, afresh %+v", len(x), got, want)
		}
	}
	t.Run("OK", func(t *testing.T) {
		var x []float64
		var m momentSums
		for range 300 {
			for range rng.IntN(9) {
				x = append(x, 1000+100*rng.NormFloat64())
			}
			same(t, x, &m)
		}
	})
	t.Run("NaN", func(t *testing.T) {
		var m momentSums
		x := []float64{1, 2, 3, 4, 5}
		same(t, x, &m)
		x = append(x, math.NaN(), 7, 8, 9)
		same(t, x, &m)
		x = append(x, 10, 11, 12, 13)
		same(t, x, &m)
		y := []float64{math.NaN(), 1, 2, 3, 4, 5, 6}
		var n momentSums
		same(t, y, &n)
		same(t, append(y, 7, 8, 9, 10), &n)
	})
	t.Run("Restart", func(t *testing.T) {
		var m momentSums
		x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
		same(t, x, &m)
		same(t, x[:3], &m)                                   // shorter
		same(t, []float64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, &m) // another first value
		same(t, nil, &m)
		same(t, x, &m)
	})
}

// TestAnalyze_Running checks that Analyze gives the same verdict, every
// field of every row, with and without running sums, look after look on
// growing arms, and that AnalyzeOutcome gives that verdict without its rows.
func TestAnalyze_Running(t *testing.T) {
	for name, cand := range map[string]fakellm.Behavior{
		"Same":     stable,
		"Refusals": with(func(b *fakellm.Behavior) { b.RefusalRate = 0.14 }),
		"Slower":   with(func(b *fakellm.Behavior) { b.Latency.P99MS *= 2 }),
	} {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			var base, cand2 Arm
			var rb, rc Running
			outcomes := map[sluice.Outcome]int{}
			for look := range 40 {
				for i := range 400 {
					o := stable.Sample(rng)
					addOutcome(&base, &o, i%2 == 0)
				}
				for i := range 40 {
					o := cand.Sample(rng)
					addOutcome(&cand2, &o, i%2 == 0)
				}
				now := time.Unix(int64(look), 0)
				want := Analyze(sluice.AnalysisSpec{}, Input{Baseline: base, Candidate: cand2}, now)
				outcomes[want.Outcome]++
				b, c := base, cand2
				b.Running, c.Running = &rb, &rc
				got := Analyze(sluice.AnalysisSpec{}, Input{Baseline: b, Candidate: c}, now)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("look %d: with running sums\n%+v\nafresh\n%+v", look, got, want)
				}
				brief := AnalyzeOutcome(sluice.AnalysisSpec{}, Input{Baseline: b, Candidate: c}, now)
				want.Metrics = nil
				if !reflect.DeepEqual(brief, want) {
					t.Fatalf("look %d: AnalyzeOutcome\n%+v\nAnalyze without its rows\n%+v", look, brief, want)
				}
			}
			t.Logf("outcomes over the looks: %v", outcomes)
		})
	}
}
