package analysis

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/stats"
)

// TestAnalyze_QuantileOfOneSide: a latency row where only the baseline has
// answers (a category the candidate has not served yet) carries the
// baseline's quantile, as the rate and mean rows carry theirs. It was left
// at 0, and sluice rollout status and the dashboard showed the baseline's
// p50 in that category as "0ms" beside a candidate's "-".
func TestAnalyze_QuantileOfOneSide(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	base := MustArm(t, rng, stable, 400)
	in := Input{
		Baseline:   base,
		Candidate:  MustArm(t, rng, stable, 3),
		Categories: map[string]Pair{"code": {Baseline: base}},
	}
	v := Analyze(sluice.AnalysisSpec{MinSamples: 100}, in, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	for _, m := range v.Metrics {
		if m.Category != "code" || m.Metric != "latency_p50" {
			continue
		}
		if want := stats.Quantiles(base.Latency, 0.5)[0]; m.BaselineN == 0 || m.Baseline != want {
			t.Errorf("latency_p50 in code: baseline %v (n=%d), want %v", m.Baseline, m.BaselineN, want)
		}
		if m.Candidate != 0 || m.CandidateN != 0 {
			t.Errorf("latency_p50 in code: candidate %v (n=%d), want none", m.Candidate, m.CandidateN)
		}
		return
	}
	t.Fatalf("no latency_p50 row in category code: %+v", v.Metrics)
}
