package analysis

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

func TestFixedGate(t *testing.T) {
	gate := FixedGateSpec{MaxErrorRate: 0.02, MaxRefusalRate: 0.05, MaxLatencyP99MS: 4000, MinRequests: 50}
	tests := []struct {
		name     string
		b        fakellm.Behavior
		n        int
		want     sluice.Outcome
		inReason string
	}{
		{"OK", stable, 2000, sluice.OutcomePass, "every limit met"},
		{"TooFew", stable, 20, sluice.OutcomeInconclusive, "20 of 50"},
		{"Errors", with(func(b *fakellm.Behavior) { b.ErrorRate = 0.08 }), 2000, sluice.OutcomeFail, "error rate"},
		{"Slow", with(func(b *fakellm.Behavior) { b.Latency.P99MS = 8000 }), 2000, sluice.OutcomeFail, "latency p99"},
		// The gate cannot see what it has no limit for.
		{"TokensUnchecked", with(func(b *fakellm.Behavior) { b.OutputTokens.Mean = 400 }), 2000, sluice.OutcomePass, "every limit met"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := MustArm(t, rand.New(rand.NewPCG(1, 1)), tc.b, tc.n)
			v := FixedGate(gate, a)
			if v.Outcome != tc.want || !strings.Contains(v.Reason, tc.inReason) {
				t.Errorf("got %s %q, want %s containing %q", v.Outcome, v.Reason, tc.want, tc.inReason)
			}
		})
	}
}

func TestFixedGateSpec_Since(t *testing.T) {
	live := now.Add(-time.Hour)
	if got := (FixedGateSpec{}).Since(live, now); !got.Equal(live) {
		t.Errorf("no window: %v, want %v", got, live)
	}
	if got := (FixedGateSpec{Window: sluice.Duration(time.Minute)}).Since(live, now); !got.Equal(now.Add(-time.Minute)) {
		t.Errorf("1m window: %v", got)
	}
	if got := (FixedGateSpec{Window: sluice.Duration(2 * time.Hour)}).Since(live, now); !got.Equal(live) {
		t.Errorf("window older than live: %v", got)
	}
}

func TestABReport(t *testing.T) {
	t.Run("CandidateWins", func(t *testing.T) {
		in := MustInput(t, 2, 5000, 5000, one(stable, with(func(b *fakellm.Behavior) {
			b.ErrorRate = 0.002
			b.Latency = fakellm.Distribution{MedianMS: 500, P99MS: 1900}
		})))
		rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
		if rep.Winner != "candidate" {
			t.Fatalf("winner %q: %s", rep.Winner, rep.Summary)
		}
		for _, m := range rep.Metrics {
			if m.Metric == "latency_mean" && (m.Winner != "candidate" || m.EffectKind != "cohens_d" || m.EffectSize >= 0 || m.Upper >= 0) {
				t.Errorf("latency: %+v", m)
			}
		}
	})
	t.Run("NoDifference", func(t *testing.T) {
		rep := ABReport(MustInput(t, 3, 3000, 3000, one(stable, stable)), sluice.AnalysisSpec{Alpha: 0})
		if rep.Winner != "no difference" || rep.Alpha != 0.05 {
			t.Errorf("winner %q at alpha %v: %s", rep.Winner, rep.Alpha, rep.Summary)
		}
	})
	t.Run("LongerIsNeitherBetterNorWorse", func(t *testing.T) {
		rep := ABReport(MustInput(t, 4, 3000, 3000, one(stable, with(func(b *fakellm.Behavior) { b.OutputTokens.Mean = 200 }))), sluice.AnalysisSpec{Alpha: 0.05})
		if rep.Winner != "no difference" {
			t.Errorf("winner %q: %s", rep.Winner, rep.Summary)
		}
		// 120 to 200 tokens is a significant change past the ±50% margin:
		// the summary must not call it "not significant".
		if !strings.Contains(rep.Summary, "changed beyond the threshold: output_tokens") || strings.Contains(rep.Summary, "not significant") {
			t.Errorf("summary %q", rep.Summary)
		}
		for _, m := range rep.Metrics {
			if m.Metric == "output_tokens" && m.Winner != "longer" {
				t.Errorf("tokens: %+v", m)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		rep := ABReport(Input{}, sluice.AnalysisSpec{Alpha: 0.05})
		if len(rep.Metrics) != 0 || rep.Winner != "no difference" {
			t.Errorf("%+v", rep)
		}
	})
}

// TestFixedGate_CancelRate: a user writes the naive gate with a limit on the
// candidate's cancel rate, and the candidate hangs on half of its requests
// until the clients give up. The gate must fail on the cancel rate, and its
// error rate must be over the requests that finished, as Analyze's is.
func TestFixedGate_CancelRate(t *testing.T) {
	a := MustArm(t, rand.New(rand.NewPCG(1, 1)), stable, 2000)
	addCancels(&a, 0.5)
	v := FixedGate(FixedGateSpec{MaxErrorRate: 0.02, MaxCancelRate: 0.05, MinRequests: 50}, a)
	if v.Outcome != sluice.OutcomeFail || !strings.Contains(v.Reason, "cancel rate 50.0% above the limit 5.0%") {
		t.Errorf("got %s %q, want a failure on the cancel rate", v.Outcome, v.Reason)
	}
	e := metric(t, v, "error_rate", "")
	if finished := a.Requests - a.Canceled; e.Candidate != float64(a.Errors)/float64(finished) || e.CandidateN != finished {
		t.Errorf("error rate %.4f over %d requests, want over the %d that finished", e.Candidate, e.CandidateN, finished)
	}
	if c := metric(t, v, "cancel_rate", ""); c.Outcome != sluice.OutcomeFail || c.CandidateN != a.Requests {
		t.Errorf("cancel_rate row: %+v", c)
	}
}
