package analysis

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestLatencyFloor: a latency or TTFT change fails a candidate only when it
// is beyond both the relative threshold and an absolute floor (default 2
// ms). Two identical model servers on loopback answered in 0.12 and 0.19
// ms at the median (the candidate's connections colder at its small share):
// +60%, significant, and a good canary rolled back for 70 µs no user could
// notice. At the latencies of a model server (hundreds of ms) the floor
// changes nothing, and a rise of a few ms on a fast model still fails.
func TestLatencyFloor(t *testing.T) {
	fast := func(medianMS float64) fakellm.Behavior {
		return fakellm.Behavior{
			Latency:      fakellm.Distribution{MedianMS: medianMS, P99MS: 3 * medianMS},
			TTFT:         fakellm.Distribution{MedianMS: medianMS / 2, P99MS: 1.5 * medianMS},
			OutputTokens: fakellm.TokenCount{Mean: 20, Spread: 5},
		}
	}
	spec := sluice.AnalysisSpec{MinSamples: 100}
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	row := func(v sluice.Verdict, metric string) sluice.MetricVerdict {
		for _, m := range v.Metrics {
			if m.Metric == metric && m.Category == "" {
				return m
			}
		}
		t.Fatalf("no %s row in %+v", metric, v.Metrics)
		return sluice.MetricVerdict{}
	}
	for _, tc := range []struct {
		name       string
		base, cand float64 // median latency, ms
		spec       sluice.AnalysisSpec
		wantFail   bool
	}{
		{"sub-millisecond, +60%: within the floor", 0.12, 0.19, spec, false},
		{"a fast model 1 ms → 5 ms: beyond the floor", 1, 5, spec, true},
		{"a model server 300 ms → 390 ms: beyond +20%", 300, 390, spec, true},
		{"a floor of 10 ms set: 1 ms → 3 ms passes", 1, 3, sluice.AnalysisSpec{MinSamples: 100, Thresholds: sluice.Thresholds{LatencyAbsMS: 10}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 9))
			in := Input{Baseline: MustArm(t, rng, fast(tc.base), 4000), Candidate: MustArm(t, rng, fast(tc.cand), 2000)}
			v := Analyze(tc.spec, in, now)
			p50 := row(v, "latency_p50")
			if failed := p50.Outcome == sluice.OutcomeFail; failed != tc.wantFail {
				t.Errorf("latency p50 %.3f → %.3f ms: outcome %s, want fail=%v (%s)", p50.Baseline, p50.Candidate, p50.Outcome, tc.wantFail, v.Reason)
			}
			if !tc.wantFail {
				if v.Outcome == sluice.OutcomeFail {
					t.Errorf("verdict failed: %s", v.Reason)
				}
				if p50.Outcome != sluice.OutcomePass {
					t.Errorf("latency p50 row %s, want pass (shown within the floor): %+v", p50.Outcome, p50)
				}
			}
			floor := tc.spec.Thresholds.LatencyAbsMS
			if floor == 0 {
				floor = DefaultLatencyAbsMS
			}
			if rules := floor > DefaultLatencyRel*p50.Baseline; rules != (p50.ThresholdMS == floor) || !rules && p50.ThresholdMS != 0 {
				t.Errorf("latency p50 threshold_ms %v, want %v when the floor rules (it does: %v)", p50.ThresholdMS, floor, rules)
			}
			if want := max(DefaultLatencyRel, floor/p50.Baseline); p50.Threshold < want*0.999 || p50.Threshold > want*1.001 {
				t.Errorf("latency p50 threshold %v, want the larger of +20%% and %v ms over %.3f ms: %v", p50.Threshold, floor, p50.Baseline, want)
			}
		})
	}
}
