//go:build !race

package stats

// simRuns scales the number of runs of the simulation tests; see the race
// build's version.
func simRuns(n int) int { return n }
