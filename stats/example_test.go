package stats_test

import (
	"fmt"

	"github.com/sluicehq/sluice/stats"
)

// The controller's loop for an error rate: every look feeds the cumulative
// counts of the stage to the test and acts on the always-valid p-value.
func ExampleMixtureSPRT() {
	// Tuned before the stage starts for its planned end, 4000 baseline and
	// 800 candidate requests at a 2% error rate.
	plannedV := 0.02 * 0.98 * (1.0/4000 + 1.0/800)
	test := stats.MixtureSPRT{Tau2: stats.OptimalTau2(plannedV, 0.05)}

	var worse stats.SequentialState // kept with the rollout between looks
	var bounds stats.IntervalState
	looks := []struct{ x1, n1, x2, n2 int }{
		{20, 1000, 9, 200},
		{41, 2000, 22, 400},
		{60, 3000, 37, 600},
		{81, 4000, 50, 800},
	}
	for i, l := range looks {
		look := test.Proportions(l.x1, l.n1, l.x2, l.n2)
		r := worse.Observe(look)
		iv := bounds.Observe(look.Interval(0.05))
		fmt.Printf("look %d: diff %+.4f in [%+.4f, %+.4f], p(candidate worse) %.3f\n",
			i+1, r.Diff, iv.Lo, iv.Hi, r.PGreater)
		if r.PGreater <= 0.05 {
			fmt.Println("roll back")
			break
		}
	}
	// Output:
	// look 1: diff +0.0250 in [-0.0349, +0.0849], p(candidate worse) 0.453
	// look 2: diff +0.0345 in [-0.0062, +0.0752], p(candidate worse) 0.068
	// look 3: diff +0.0417 in [+0.0083, +0.0750], p(candidate worse) 0.003
	// roll back
}

// A p95 latency gate: roll back once the candidate's p95 is surely more than
// 50 ms above the baseline's, promote once it is surely not.
func ExampleQuantileSequence() {
	p95 := stats.QuantileSequence{Q: 0.95, Horizon: 2000}
	var baseline, candidate []float64 // every latency of the stage so far, in ms
	for i := range 8000 {
		baseline = append(baseline, float64(100+(i*37)%500))
	}
	for i := range 1600 {
		candidate = append(candidate, 1.3*float64(100+(i*41)%500))
	}
	r := p95.Diff(baseline, candidate)
	fmt.Printf("p95 %.0f ms vs %.0f ms, difference in [%.0f, %.0f]\n",
		r.Candidate, r.Baseline, r.DiffCS.Lo, r.DiffCS.Hi)
	switch {
	case r.DiffCS.Lo > 50:
		fmt.Println("roll back")
	case r.DiffCS.Hi <= 50:
		fmt.Println("promote")
	default:
		fmt.Println("keep watching")
	}
	// Output:
	// p95 748 ms vs 574 ms, difference in [154, 189]
	// roll back
}
