package analysis

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestAnalyze_Outcomes(t *testing.T) {
	better := with(func(b *fakellm.Behavior) {
		b.ErrorRate, b.RefusalRate = 0.005, 0.02
		b.Latency = fakellm.Distribution{MedianMS: 640, P99MS: 2400}
		b.TTFT = fakellm.Distribution{MedianMS: 160, P99MS: 720}
	})
	tests := []struct {
		name     string
		nb, nc   int
		cats     map[string]catSpec
		want     sluice.Outcome
		failRow  string // metric/category that must fail
		inReason string
	}{
		{name: "IdenticalBeforeMinSamples", nb: 5000, nc: 60, cats: one(stable, stable), want: sluice.OutcomeInconclusive, inReason: "60 of 100"},
		{name: "IdenticalEarly", nb: 20000, nc: 400, cats: one(stable, stable), want: sluice.OutcomeInconclusive, inReason: "not yet shown"},
		{name: "IdenticalEnoughData", nb: 60000, nc: 30000, cats: one(stable, stable), want: sluice.OutcomePass},
		{name: "BetterPasses", nb: 40000, nc: 4000, cats: one(stable, better), want: sluice.OutcomePass},
		{name: "ErrorRate1To5Fails", nb: 20000, nc: 600, cats: one(stable, with(func(b *fakellm.Behavior) { b.ErrorRate = 0.05 })),
			want: sluice.OutcomeFail, failRow: "error_rate/", inReason: "error rate: "},
		{name: "Refusals3To14Fails", nb: 20000, nc: 300, cats: one(stable, with(func(b *fakellm.Behavior) { b.RefusalRate = 0.14 })),
			want: sluice.OutcomeFail, failRow: "refusal_rate/", inReason: "threshold +50%"},
		{name: "TokensPlus60Fails", nb: 20000, nc: 300, cats: one(stable, with(func(b *fakellm.Behavior) { b.OutputTokens = fakellm.TokenCount{Mean: 192, Spread: 96} })),
			want: sluice.OutcomeFail, failRow: "output_tokens/", inReason: "output tokens"},
		{name: "P99Plus40MeanSameFails", nb: 60000, nc: 6000, cats: one(stable, with(func(b *fakellm.Behavior) { b.Latency = p99Plus40MeanSame(stable.Latency) })),
			want: sluice.OutcomeFail, failRow: "latency_p99/", inReason: "latency p99"},
		{name: "CategoryOnlyRegressionFails", nb: 40000, nc: 4000, cats: map[string]catSpec{
			"chat":     {weight: 0.6, baseline: stable, candidate: better},
			"code":     {weight: 0.3, baseline: stable, candidate: better},
			"payments": {weight: 0.1, baseline: stable, candidate: with(func(b *fakellm.Behavior) { b.RefusalRate = 0.14 })},
		}, want: sluice.OutcomeFail, failRow: "refusal_rate/payments", inReason: "refusal rate in category payments: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := MustInput(t, 1, tc.nb, tc.nc, tc.cats)
			v := Analyze(sluice.AnalysisSpec{}, in, now)
			if v.Outcome != tc.want {
				t.Fatalf("outcome %s, want %s: %s (failing: %s)", v.Outcome, tc.want, v.Reason, failing(v))
			}
			if tc.failRow != "" && !strings.Contains(" "+failing(v)+" ", " "+tc.failRow+" ") {
				t.Errorf("failing rows %q, want %s among them", failing(v), tc.failRow)
			}
			if !strings.Contains(v.Reason, tc.inReason) {
				t.Errorf("reason %q does not contain %q", v.Reason, tc.inReason)
			}
			if v.CandidateN != in.Candidate.Requests || v.BaselineN != in.Baseline.Requests {
				t.Errorf("n = %d/%d, want %d/%d", v.BaselineN, v.CandidateN, in.Baseline.Requests, in.Candidate.Requests)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Errorf("verdict does not marshal: %v", err)
			}
			t.Log(v.Reason)
		})
	}
}

// p99Plus40MeanSame returns a lognormal with p99 40% above d's and the same
// mean: a wider spread around a lower median.
func p99Plus40MeanSame(d fakellm.Distribution) fakellm.Distribution {
	const z99 = 2.3263478740408408
	sb := math.Log(d.P99MS/d.MedianMS) / z99
	// Solve −σ²/2 + z99·σ = −σb²/2 + z99·σb + ln 1.4 for the smaller root.
	c := -sb*sb/2 + z99*sb + math.Log(1.4)
	sc := z99 - math.Sqrt(z99*z99-2*c)
	median := d.MedianMS * math.Exp(sb*sb/2-sc*sc/2)
	return fakellm.Distribution{MedianMS: median, P99MS: median * math.Exp(z99*sc)}
}
