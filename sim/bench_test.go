package sim

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkEngine_Run simulates whole rollouts of a bad candidate caught at
// the first stage, the common case of a benchmark run.
func BenchmarkEngine_Run(b *testing.B) {
	e := newEngine(MustScenario(b, "refusals_3_to_14", time.Hour), 10)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		e.run(GateSequential, 1, i)
	}
	reportCPU(b, cpu0)
}

// BenchmarkEngine_RunAA simulates an A/A rollout to its promotion, the
// longest run of the scenario set.
func BenchmarkEngine_RunAA(b *testing.B) {
	e := newEngine(MustScenario(b, "aa", 4*time.Hour), 10)
	cpu0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		e.run(GateSequential, 1, i)
	}
	reportCPU(b, cpu0)
}

// BenchmarkScenarios simulates rollouts of every scenario of sim/scenarios
// under each gate, one rollout per iteration: iteration i is run i of seed
// 1, so -benchtime Nx gives every build the same N rollouts, the first N of
// `sluice sim --seed 1`. sim/benchstat-speed.txt compares builds with it.
func BenchmarkScenarios(b *testing.B) {
	paths, err := filepath.Glob("scenarios/*.yaml")
	if err != nil || len(paths) == 0 {
		b.Fatalf("no scenarios: %v", err)
	}
	for _, path := range paths {
		sc, err := LoadScenario(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, g := range []Gate{GateSequential, GateFixed} {
			b.Run(sc.Name+"/"+string(g), func(b *testing.B) {
				e := newEngine(sc, 10)
				cpu0 := cpuTime()
				for i := 0; b.Loop(); i++ {
					e.run(g, 1, i)
				}
				reportCPU(b, cpu0)
			})
		}
	}
}

// BenchmarkSortedSeries_Sorted grows a sample by 300 values a look to
// 60,000, as the baseline's latency grows between analyses.
func BenchmarkSortedSeries_Sorted(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	var x sortedSeries
	for b.Loop() {
		x.reset()
		for range 200 {
			for range 300 {
				x.add(math.Exp(rng.NormFloat64()))
			}
			x.sorted()
		}
	}
}

// reportCPU reports the process's CPU time per iteration since cpu0, which
// other work on a shared machine disturbs less than wall time.
func reportCPU(b *testing.B, cpu0 int64) {
	b.ReportMetric(float64(cpuTime()-cpu0)/1e9/float64(b.N), "cpu-sec/op")
}

func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
