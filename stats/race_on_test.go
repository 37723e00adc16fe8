//go:build race

package stats

// simRuns scales the number of runs of the simulation tests: the race
// detector slows floating-point loops several-fold, and these tests have no
// concurrency for it to check, so a quarter of the runs keeps it quick.
func simRuns(n int) int { return n / 4 }
