package rollout

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestStart_ThresholdsValidated: an operator starts a rollout with a
// mistyped threshold in analysis.thresholds (a negative value, an absolute
// rate floor of 5 meaning 5%, NaN). The rollout must be refused at start
// with an error naming the key and saying what to give, never run with a
// threshold that fails every candidate or none; large relative thresholds
// (+300% latency) stay allowed.
func TestStart_ThresholdsValidated(t *testing.T) {
	prev := &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}}
	start := func(th sluice.Thresholds) error {
		spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary,
			Analysis: sluice.AnalysisSpec{Thresholds: th}}
		_, _, err := Start("chat-1", spec, prev, "alice", "ship", t0)
		return err
	}
	for _, tc := range []struct {
		name string
		th   sluice.Thresholds
		key  string
	}{
		{"NegativeCancelRel", sluice.Thresholds{CancelRateRel: -0.5}, "analysis.thresholds.cancel_rate_rel"},
		{"CancelAbsAboveOne", sluice.Thresholds{CancelRateAbs: 5}, "analysis.thresholds.cancel_rate_abs"},
		{"NegativeErrorAbs", sluice.Thresholds{ErrorRateAbs: -0.01}, "analysis.thresholds.error_rate_abs"},
		{"RefusalAbsAboveOne", sluice.Thresholds{RefusalRateAbs: 1.5}, "analysis.thresholds.refusal_rate_abs"},
		{"NaNLatency", sluice.Thresholds{LatencyRel: math.NaN()}, "analysis.thresholds.latency_rel"},
		{"InfTokens", sluice.Thresholds{TokensRel: math.Inf(1)}, "analysis.thresholds.tokens_rel"},
		{"QualityAboveOne", sluice.Thresholds{QualityAbs: 2}, "analysis.thresholds.quality_abs"},
		{"NegativeCacheMissRel", sluice.Thresholds{CacheMissRateRel: -1}, "analysis.thresholds.cache_miss_rate_rel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := start(tc.th)
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("err = %v, want an error naming %s", err, tc.key)
			}
			var e *sluice.Error
			if !errors.As(err, &e) || e.Code != sluice.CodeInvalid || len(e.Fields) != 1 || e.Fields[0] != tc.key {
				t.Errorf("err = %#v, want CodeInvalid with field %s", err, tc.key)
			}
		})
	}
	t.Run("OK", func(t *testing.T) {
		if err := start(sluice.Thresholds{LatencyRel: 3, ErrorRateRel: 100, ErrorRateAbs: 1, CancelRateRel: 2, CancelRateAbs: 0.05, QualityAbs: 1}); err != nil {
			t.Errorf("err = %v", err)
		}
	})
}

// TestStart_GuardsValidated: analysis.guards naming the error rate, a metric
// that does not exist or one twice is refused at start with the key named;
// a rollout with the tails as guards starts and keeps them in its spec.
func TestStart_GuardsValidated(t *testing.T) {
	prev := &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}}
	start := func(guards ...string) (sluice.Rollout, error) {
		spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary,
			Analysis: sluice.AnalysisSpec{Guards: guards}}
		r, _, err := Start("chat-1", spec, prev, "alice", "ship", t0)
		return r, err
	}
	for _, g := range [][]string{{"error_rate"}, {"p99"}, {"latency_p99", "latency_p99"}} {
		_, err := start(g...)
		var e *sluice.Error
		if !errors.As(err, &e) || e.Code != sluice.CodeInvalid || len(e.Fields) != 1 || e.Fields[0] != "analysis.guards" {
			t.Errorf("guards %q: err = %v, want CodeInvalid naming analysis.guards", g, err)
		}
	}
	r, err := start("latency_p95", "latency_p99")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.Spec.Analysis.Guards, ","); got != "latency_p95,latency_p99" {
		t.Errorf("stored guards %q", got)
	}
}
