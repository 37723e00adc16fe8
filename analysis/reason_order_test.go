package analysis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
)

// TestAnalyze_ReasonNamesFailingRatesFirst: a candidate failing 27% of its
// requests and a few milliseconds slower was rolled back with "latency p50
// …; latency p50 in category code …; … and 3 more": every failing row's
// p-value was 0, and the tie went to the largest effect, a relative
// latency change of +1875% against an error rate's +26 points, units that
// do not compare. What an operator must read first, failed and canceled
// requests, now comes first; then what users see of the answers, then
// speed, then lengths.
func TestAnalyze_ReasonNamesFailingRatesFirst(t *testing.T) {
	arm := func(n, errs int, lat float64) analysis.Arm {
		a := analysis.Arm{Requests: n, Errors: errs}
		for i := range n - errs {
			a.Latency = append(a.Latency, lat+float64(i%5)/10)
			a.OutputTokens = append(a.OutputTokens, float64(20+i%5))
			a.ResponseChars = append(a.ResponseChars, float64(80+i%9))
		}
		return a
	}
	v := analysis.Analyze(sluice.AnalysisSpec{}, analysis.Input{Baseline: arm(4000, 10, 0.3), Candidate: arm(2000, 540, 6)}, time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC))
	if v.Outcome != sluice.OutcomeFail {
		t.Fatalf("outcome %s (%s), want fail", v.Outcome, v.Reason)
	}
	if !strings.HasPrefix(v.Reason, "error rate: ") {
		t.Errorf("reason %q: want the error rate named first", v.Reason)
	}
}
