package analysis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestAnalyze_Guards: metrics named in analysis.guards can fail a candidate
// significantly worse beyond their threshold, in any category, but never
// hold back a pass. A p99 needs some 2,000 candidate requests to be shown
// within +20% where every other metric of a service without errors or
// refusals is shown within its threshold after 800: a canary at 5% of a
// quiet service waited that long for its tail alone.
func TestAnalyze_Guards(t *testing.T) {
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	quiet := with(func(b *fakellm.Behavior) { b.ErrorRate, b.RefusalRate = 0, 0 })
	tails := []string{"latency_p95", "latency_p99"}

	t.Run("OKRequiredTailHoldsThePass", func(t *testing.T) {
		in := MustInput(t, 3, 20000, 1000, one(quiet, quiet))
		v := Analyze(sluice.AnalysisSpec{MinSamples: 100}, in, now)
		if v.Outcome != sluice.OutcomeInconclusive || !strings.Contains(v.Reason, "latency p99") {
			t.Fatalf("without guards: %s (%s), want inconclusive waiting for latency p99", v.Outcome, v.Reason)
		}
		if p99 := metric(t, v, "latency_p99", ""); p99.Guard {
			t.Errorf("latency_p99 row marked a guard without analysis.guards")
		}
	})

	t.Run("OKGuardedTailDoesNotHold", func(t *testing.T) {
		in := MustInput(t, 3, 20000, 1000, one(quiet, quiet))
		v := Analyze(sluice.AnalysisSpec{MinSamples: 100, Guards: tails}, in, now)
		if v.Outcome != sluice.OutcomePass {
			t.Fatalf("with guards %v: %s (%s), want pass", tails, v.Outcome, v.Reason)
		}
		if v.NeedSamples != 100 {
			t.Errorf("need_samples %d on a pass, want min_samples 100", v.NeedSamples)
		}
		for _, name := range tails {
			m := metric(t, v, name, "")
			if !m.Guard {
				t.Errorf("%s row not marked a guard: %+v", name, m)
			}
			if m.Name() != name+" (guard)" {
				t.Errorf("%s row's name %q, want %q", name, m.Name(), name+" (guard)")
			}
		}
		if m := metric(t, v, "latency_p50", ""); m.Guard || m.Outcome != sluice.OutcomePass {
			t.Errorf("latency_p50 (not guarded): guard %v, outcome %s; want a required row that passed", m.Guard, m.Outcome)
		}
	})

	t.Run("OKNeedSamplesLeavesGuardsOut", func(t *testing.T) {
		// At 500 candidate requests p95, p99 and the error rate are not yet
		// shown; the reason and the projection are of the required rows.
		in := MustInput(t, 3, 20000, 500, one(quiet, quiet))
		req := Analyze(sluice.AnalysisSpec{MinSamples: 100}, in, now)
		grd := Analyze(sluice.AnalysisSpec{MinSamples: 100, Guards: tails}, in, now)
		if grd.Outcome != sluice.OutcomeInconclusive || grd.NeedSamples > req.NeedSamples {
			t.Errorf("need_samples %d with guards, %d without: want no more with the tails guarded (%s)", grd.NeedSamples, req.NeedSamples, grd.Reason)
		}
		if !strings.Contains(req.Reason, "latency p95") {
			t.Fatalf("without guards the reason does not wait for latency p95: %s", req.Reason)
		}
		if strings.Contains(grd.Reason, "latency p99") || strings.Contains(grd.Reason, "latency p95") {
			t.Errorf("reason waits for a guard: %s", grd.Reason)
		}
	})

	t.Run("ErrGuardStillFails", func(t *testing.T) {
		heavy := with(func(b *fakellm.Behavior) {
			b.ErrorRate, b.RefusalRate = 0, 0
			b.Latency.P99MS = 4 * b.Latency.P99MS
		})
		in := MustInput(t, 5, 20000, 1000, one(quiet, heavy))
		v := Analyze(sluice.AnalysisSpec{MinSamples: 100, Guards: tails}, in, now)
		if v.Outcome != sluice.OutcomeFail || !strings.Contains(failing(v), "latency_p99/") {
			t.Fatalf("p99 ×4 with latency_p99 a guard: %s, failing %q (%s); want a fail on latency_p99", v.Outcome, failing(v), v.Reason)
		}
	})

	t.Run("ErrGuardFailsInACategory", func(t *testing.T) {
		heavy := with(func(b *fakellm.Behavior) {
			b.ErrorRate, b.RefusalRate = 0, 0
			b.Latency.P99MS = 5 * b.Latency.P99MS
		})
		in := MustInput(t, 9, 40000, 4000, map[string]catSpec{
			"chat":     {weight: 0.7, baseline: quiet, candidate: quiet},
			"payments": {weight: 0.3, baseline: quiet, candidate: heavy},
		})
		v := Analyze(sluice.AnalysisSpec{MinSamples: 100, Guards: tails}, in, now)
		if v.Outcome != sluice.OutcomeFail || !strings.Contains(failing(v), "latency_p99/payments") {
			t.Fatalf("payments' p99 ×5, latency_p99 a guard: %s, failing %q (%s); want a fail on latency_p99 in payments", v.Outcome, failing(v), v.Reason)
		}
		if m := metric(t, v, "latency_p99", "payments"); !m.Guard {
			t.Errorf("the category's latency_p99 row not marked a guard")
		}
	})
}

func TestValidateGuards(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		if err := ValidateGuards([]string{"latency_p95", "latency_p99", "ttft", "quality"}); err != nil {
			t.Fatal(err)
		}
		if err := ValidateGuards(nil); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name  string
		in    []string
		words string
	}{
		{"ErrErrorRate", []string{"latency_p99", "error_rate"}, "cannot name error_rate"},
		{"ErrCancelRate", []string{"cancel_rate"}, "cannot name cancel_rate"},
		{"ErrUnknown", []string{"p99"}, `names "p99", which is not a metric of the analysis: use any of refusal_rate, latency_p50, latency_p95, latency_p99, ttft,`},
		{"ErrPromGate", []string{"prom:kv_cache"}, "not a metric of the analysis"},
		{"ErrTwice", []string{"latency_p99", "latency_p99"}, "names latency_p99 twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateGuards(tc.in)
			var se *sluice.Error
			if err == nil || !errors.As(err, &se) || se.Code != sluice.CodeInvalid || !strings.Contains(err.Error(), tc.words) {
				t.Fatalf("ValidateGuards(%q) = %v, want an invalid error saying %q", tc.in, err, tc.words)
			}
		})
	}
}
