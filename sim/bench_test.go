package sim

import (
	"testing"
	"time"
)

// BenchmarkEngine_Run simulates whole rollouts of a bad candidate caught at
// the first stage, the common case of a benchmark run.
func BenchmarkEngine_Run(b *testing.B) {
	e := newEngine(MustScenario(b, "refusals_3_to_14", time.Hour), 10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.run(GateSequential, 1, i)
	}
}

// BenchmarkEngine_RunAA simulates an A/A rollout to its promotion, the
// longest run of the scenario set.
func BenchmarkEngine_RunAA(b *testing.B) {
	e := newEngine(MustScenario(b, "aa", 4*time.Hour), 10)
	for i := 0; b.Loop(); i++ {
		e.run(GateSequential, 1, i)
	}
}
