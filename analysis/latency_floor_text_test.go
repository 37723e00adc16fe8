package analysis

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestLatencyFloor_TextInMS: where the latency floor (+2 ms) rules a row,
// its reason and detail give the change and the interval's ends in ms,
// the threshold's unit: "up to +1015%, threshold +2 ms" of a 0.2 ms
// baseline could not be held against the threshold beside it. The ends are
// the ones the row is judged by: a row not yet shown within the floor has
// its upper end beyond +2 ms, a failing row its lower end.
func TestLatencyFloor_TextInMS(t *testing.T) {
	fast := func(medianMS float64) fakellm.Behavior {
		return fakellm.Behavior{
			Latency:      fakellm.Distribution{MedianMS: medianMS, P99MS: 3 * medianMS},
			TTFT:         fakellm.Distribution{MedianMS: medianMS / 2, P99MS: 1.5 * medianMS},
			OutputTokens: fakellm.TokenCount{Mean: 20, Spread: 5},
		}
	}
	now := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	analyze := func(base, cand float64, nb, nc int) sluice.Verdict {
		rng := rand.New(rand.NewPCG(7, 9))
		in := Input{Baseline: MustArm(t, rng, fast(base), nb), Candidate: MustArm(t, rng, fast(cand), nc)}
		return Analyze(sluice.AnalysisSpec{MinSamples: 100}, in, now)
	}
	row := func(v sluice.Verdict, metric string) sluice.MetricVerdict {
		for _, m := range v.Metrics {
			if m.Metric == metric && m.Category == "" {
				return m
			}
		}
		t.Fatalf("no %s row in %+v", metric, v.Metrics)
		return sluice.MetricVerdict{}
	}
	ms := func(t *testing.T, s string) float64 {
		t.Helper()
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}

	t.Run("NotYetShown", func(t *testing.T) {
		// 0.2 → 0.8 ms at the median: p99 0.59 vs some 2.4 ms, its upper
		// end past the floor at 2,000 candidate requests.
		v := analyze(0.2, 0.8, 20000, 2000)
		p99 := row(v, "latency_p99")
		if v.Outcome != sluice.OutcomeInconclusive || p99.ThresholdMS != 2 || p99.Outcome != sluice.OutcomeInconclusive {
			t.Fatalf("verdict %s, p99 %+v; want inconclusive on the p99 row, the floor ruling it", v.Outcome, p99)
		}
		m := regexp.MustCompile(`latency p99 \(up to \+([0-9.]+) ms, threshold \+2 ms\)`).FindStringSubmatch(v.Reason)
		if m == nil {
			t.Fatalf("reason %q; want the p99 row's upper end in ms beside its +2 ms", v.Reason)
		}
		if up := ms(t, m[1]); up <= 2 || up < p99.Candidate-p99.Baseline {
			t.Errorf("up to +%v ms: want beyond the +2 ms floor (not yet shown within it) and above the estimate %+.3f ms", up, p99.Candidate-p99.Baseline)
		}
		d := regexp.MustCompile(`\(\+([0-9.]+) ms, threshold \+2 ms\); anytime-valid interval ([-+][0-9.]+ ms|-unbounded) to \+([0-9.]+) ms, p = `).FindStringSubmatch(p99.Detail)
		if d == nil || d[3] != m[1] {
			t.Errorf("p99 detail %q; want its effect and interval in ms, the upper end the reason's %s", p99.Detail, m[1])
		}
	})

	t.Run("Fails", func(t *testing.T) {
		v := analyze(1, 5, 4000, 2000)
		p50 := row(v, "latency_p50")
		if v.Outcome != sluice.OutcomeFail || p50.Outcome != sluice.OutcomeFail || p50.ThresholdMS != 2 {
			t.Fatalf("verdict %s, p50 %+v; want failed on p50, the floor ruling it", v.Outcome, p50)
		}
		want := "latency p50: 5 ms vs 1 ms (+3.96 ms, threshold +2 ms)" // was (+391%, threshold +2 ms)
		if !strings.Contains(v.Reason, want) {
			t.Errorf("reason %q; want %q", v.Reason, want)
		}
		d := regexp.MustCompile(`anytime-valid interval \+([0-9.]+) ms to \+([0-9.]+) ms, p = .*: worse beyond the threshold$`).FindStringSubmatch(p50.Detail)
		if d == nil {
			t.Fatalf("p50 detail %q; want its interval in ms", p50.Detail)
		}
		if lo, hi := ms(t, d[1]), ms(t, d[2]); lo <= 2 || hi < lo {
			t.Errorf("interval +%v to +%v ms; want both ends beyond the +2 ms floor it failed", lo, hi)
		}
	})
	if strings.Contains(analyze(0.2, 0.8, 20000, 2000).Reason, "%, threshold +2 ms") {
		t.Error("a percentage beside the +2 ms floor")
	}
}
