package promgate_test

import (
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
)

func f(x float64) *float64 { return &x }

func TestJudge(t *testing.T) {
	maxOnly := sluice.PromGate{Name: "errors", Query: "q", Max: f(0.05)}
	minOnly := sluice.PromGate{Name: "success", Query: "q", Min: f(0.99)}
	both := sluice.PromGate{Name: "tps", Query: "q", Min: f(10), Max: f(20)}
	for _, tc := range []struct {
		name   string
		res    promgate.Result
		want   sluice.Outcome
		thresh float64
		detail string
	}{
		{"BelowMax", promgate.Result{Gate: maxOnly, Value: 0.01}, sluice.OutcomePass, 0.05, "within max"},
		{"AtMax", promgate.Result{Gate: maxOnly, Value: 0.05}, sluice.OutcomePass, 0.05, "within"},
		{"AboveMax", promgate.Result{Gate: maxOnly, Value: 0.3}, sluice.OutcomeFail, 0.05, "above max"},
		{"AboveMin", promgate.Result{Gate: minOnly, Value: 0.995}, sluice.OutcomePass, 0.99, "within min"},
		{"BelowMin", promgate.Result{Gate: minOnly, Value: 0.9}, sluice.OutcomeFail, 0.99, "below min"},
		{"InRange", promgate.Result{Gate: both, Value: 15}, sluice.OutcomePass, 20, "within [10, 20]"},
		{"UnderRange", promgate.Result{Gate: both, Value: 5}, sluice.OutcomeFail, 10, "below min 10"},
		{"OverRange", promgate.Result{Gate: both, Value: 25}, sluice.OutcomeFail, 20, "above max 20"},
		{"PlusInfFails", promgate.Result{Gate: maxOnly, Value: math.Inf(1)}, sluice.OutcomeFail, 0.05, "above max"},
		{"NoData", promgate.Result{Gate: maxOnly, NoData: true}, sluice.OutcomeInconclusive, 0.05, "no data"},
		{"NaNIsNoData", promgate.Result{Gate: maxOnly, Value: math.NaN()}, sluice.OutcomeInconclusive, 0.05, "no data"},
		{"ErrorIsInconclusive", promgate.Result{Gate: maxOnly, Err: "connection refused"}, sluice.OutcomeInconclusive, 0.05, "query failed: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mv := promgate.Judge(tc.res)
			if mv.Metric != "prom:"+tc.res.Gate.Name || mv.Outcome != tc.want || mv.Threshold != tc.thresh || !strings.Contains(mv.Detail, tc.detail) {
				t.Errorf("got %s %s threshold %v detail %q; want %s threshold %v detail containing %q", mv.Metric, mv.Outcome, mv.Threshold, mv.Detail, tc.want, tc.thresh, tc.detail)
			}
			if math.IsInf(mv.Candidate, 0) || math.IsNaN(mv.Candidate) {
				t.Errorf("candidate %v cannot be written as JSON", mv.Candidate)
			}
		})
	}
}

// TestMerge is the decision table: how the gates change the statistical
// verdict.
func TestMerge(t *testing.T) {
	gate := sluice.PromGate{Name: "cand_errors", Query: "q", Max: f(0.05)}
	other := sluice.PromGate{Name: "p99", Query: "q", Max: f(2)}
	pass := promgate.Result{Gate: gate, Value: 0.01}
	fail := promgate.Result{Gate: gate, Value: 0.2}
	nodata := promgate.Result{Gate: gate, NoData: true}
	broken := promgate.Result{Gate: gate, Err: "prometheus at http://p:9090 did not answer within 1s"}
	otherPass := promgate.Result{Gate: other, Value: 1}
	stat := func(o sluice.Outcome, reason string) sluice.Verdict {
		return sluice.Verdict{Outcome: o, Reason: reason, Metrics: []sluice.MetricVerdict{{Metric: "error_rate", Outcome: o}}}
	}
	for _, tc := range []struct {
		name    string
		v       sluice.Verdict
		res     []promgate.Result
		want    sluice.Outcome
		reasons []string // substrings of the reason
	}{
		{"NoGatesUnchanged", stat(sluice.OutcomePass, "all good"), nil, sluice.OutcomePass, []string{"all good"}},
		{"PassAndGatesPass", stat(sluice.OutcomePass, "all good"), []promgate.Result{pass, otherPass}, sluice.OutcomePass, []string{"all good", "2 Prometheus gate(s) within bounds"}},
		{"PassButGateFails", stat(sluice.OutcomePass, "all good"), []promgate.Result{fail, otherPass}, sluice.OutcomeFail, []string{`Prometheus gate "cand_errors": 0.2 is above max 0.05`}},
		{"InconclusiveButGateFails", stat(sluice.OutcomeInconclusive, "need 100 samples"), []promgate.Result{fail}, sluice.OutcomeFail, []string{`"cand_errors"`}},
		{"StatsFailAndGateFails", stat(sluice.OutcomeFail, "error_rate +80%"), []promgate.Result{fail}, sluice.OutcomeFail, []string{"error_rate +80%", `"cand_errors"`}},
		{"StatsFailGatePasses", stat(sluice.OutcomeFail, "error_rate +80%"), []promgate.Result{pass}, sluice.OutcomeFail, []string{"error_rate +80%"}},
		{"StatsFailGateNoData", stat(sluice.OutcomeFail, "error_rate +80%"), []promgate.Result{nodata}, sluice.OutcomeFail, []string{"error_rate +80%"}},
		{"PassButNoDataWaits", stat(sluice.OutcomePass, "all good"), []promgate.Result{nodata}, sluice.OutcomeInconclusive, []string{`"cand_errors" has no data yet`, "statistical analysis passed"}},
		{"PassButErrorWaits", stat(sluice.OutcomePass, "all good"), []promgate.Result{broken, otherPass}, sluice.OutcomeInconclusive, []string{`"cand_errors" could not be evaluated: prometheus at http://p:9090 did not answer`}},
		{"InconclusiveAndError", stat(sluice.OutcomeInconclusive, "need 100 samples"), []promgate.Result{broken}, sluice.OutcomeInconclusive, []string{"need 100 samples", "could not be evaluated"}},
		{"ErrorDoesNotHideFailure", stat(sluice.OutcomePass, "all good"), []promgate.Result{broken, {Gate: other, Value: 3}}, sluice.OutcomeFail, []string{`"p99": 3 is above max 2`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := promgate.Merge(tc.v, tc.res)
			if got.Outcome != tc.want {
				t.Errorf("outcome %s, want %s (reason %q)", got.Outcome, tc.want, got.Reason)
			}
			for _, s := range tc.reasons {
				if !strings.Contains(got.Reason, s) {
					t.Errorf("reason %q does not contain %q", got.Reason, s)
				}
			}
			if n := len(got.Metrics); n != 1+len(tc.res) {
				t.Errorf("%d metric rows, want %d", n, 1+len(tc.res))
			}
			if len(tc.v.Metrics) != 1 {
				t.Error("Merge changed its input")
			}
		})
	}
}

func TestErrors(t *testing.T) {
	got := promgate.Errors([]promgate.Result{
		{Gate: sluice.PromGate{Name: "a"}, Value: 1},
		{Gate: sluice.PromGate{Name: "b"}, Err: "boom"},
		{Gate: sluice.PromGate{Name: "c"}, NoData: true},
	})
	if len(got) != 1 || got[0] != `gate "b": boom` {
		t.Errorf("Errors = %q", got)
	}
}
