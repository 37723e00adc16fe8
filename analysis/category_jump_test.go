package analysis

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestAnalyze_CategoryJumpNamed is the user trial's candidate: it fails
// 27.5% of payments requests where the stable version fails none, and is
// the stable version elsewhere. With the error rate's test tuned on the
// baseline's rare-event variance alone, the overall error rate failed
// (7.3% vs 0.0%) while the payments row stayed inconclusive (adjusted
// p 0.67), so the decision did not say the regression was in payments; a
// candidate refusing 49% of payments answers had its row at p 0.327. The
// test of "worse" now averages in a mixture tuned for a large jump
// (stats.MixtureSPRT.Tau2Wide), and the payments row fails with it, named
// in the reason.
func TestAnalyze_CategoryJumpNamed(t *testing.T) {
	clean := with(func(b *fakellm.Behavior) { b.ErrorRate = 0 })
	broken := with(func(b *fakellm.Behavior) { b.ErrorRate = 0.275 })
	for _, c := range []struct {
		name    string
		kind    string
		broken  fakellm.Behavior
		nb, nc  int
		metric  string
		inWords string
	}{
		// 19 errors in 62 payments requests: before, the overall row
		// failed (adjusted p 0.030) and the payments row was at p 1.
		{"Errors", "error", broken, 6000, 250, "error_rate", "error rate in category payments: "},
		// 14 refusals in 31 answers against 3%: before, the payments row
		// was at p 0.33, the trial's 0.327, and nothing failed.
		{"Refusals", "refusal", with(func(b *fakellm.Behavior) { b.ErrorRate, b.RefusalRate = 0, 0.49 }), 6000, 125, "refusal_rate", "refusal rate in category payments: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := MustInput(t, 3, c.nb, c.nc, map[string]catSpec{
				"chat":     {weight: 0.75, baseline: clean, candidate: clean},
				"payments": {weight: 0.25, baseline: clean, candidate: c.broken},
			})
			v := Analyze(sluice.AnalysisSpec{}, in, now)
			row := metric(t, v, c.metric, "payments")
			t.Logf("%s in payments: %d of %d candidate requests; row p %.4g, outcome %s; reason: %s",
				c.kind, in.Categories["payments"].Candidate.Errors+in.Categories["payments"].Candidate.Refusals,
				in.Categories["payments"].Candidate.Requests, row.PValue, row.Outcome, v.Reason)
			if v.Outcome != sluice.OutcomeFail {
				t.Fatalf("outcome %s, want fail: %s", v.Outcome, v.Reason)
			}
			if row.Outcome != sluice.OutcomeFail {
				t.Errorf("%s in payments: outcome %s at p %.3g, want fail (failing: %s)", c.metric, row.Outcome, row.PValue, failing(v))
			}
			if !strings.Contains(v.Reason, c.inWords) {
				t.Errorf("reason %q does not name payments (%q)", v.Reason, c.inWords)
			}
		})
	}
}
