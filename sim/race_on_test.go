//go:build race

package sim

// raceDetector is true under the race detector, which slows the
// simulation's loops about tenfold: the runner tests then simulate fewer
// and shorter rollouts (they have little concurrency for it to check).
const raceDetector = true
