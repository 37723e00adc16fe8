package analysis

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestAnalyze_ReasonSaysWhereAnOverallRateConcentrates: a candidate that
// refuses 45% of payments answers (3% elsewhere) can fail on the overall
// refusal rate before its payments row has the 30 requests a test needs.
// The reason then said "refusal rate: 10.5% vs 2.9%" and nothing of
// payments. It now says, as a description of counts and not as a test,
// that most of the excess is in payments; a regression spread over every
// category names none.
func TestAnalyze_ReasonSaysWhereAnOverallRateConcentrates(t *testing.T) {
	cats := func(payments fakellm.Behavior, others fakellm.Behavior) map[string]catSpec {
		return map[string]catSpec{
			"chat":     {weight: 0.5, baseline: stable, candidate: others},
			"code":     {weight: 0.25, baseline: stable, candidate: others},
			"search":   {weight: 0.15, baseline: stable, candidate: others},
			"payments": {weight: 0.10, baseline: stable, candidate: payments},
		}
	}
	t.Run("Concentrated", func(t *testing.T) {
		in := MustInput(t, 15, 10000, 250, cats(with(func(b *fakellm.Behavior) { b.RefusalRate = 0.45 }), stable))
		v := Analyze(sluice.AnalysisSpec{}, in, now)
		if v.Outcome != sluice.OutcomeFail || failing(v) != "refusal_rate/" {
			t.Fatalf("outcome %s, failing %q, want a fail on the overall refusal rate alone: %s", v.Outcome, failing(v), v.Reason)
		}
		want := "refusal rate: 10.5% vs 2.9% (+264%, threshold +50%), most of the excess in category payments: 15 refusals in 25 answers (60.0% vs 2.4%), too few to test on their own"
		if v.Reason != want {
			t.Errorf("reason\n%q, want\n%q", v.Reason, want)
		}
	})
	t.Run("Everywhere", func(t *testing.T) {
		// 5% errors in every category: no category holds the excess.
		worse := with(func(b *fakellm.Behavior) { b.ErrorRate = 0.05 })
		in := MustInput(t, 1, 20000, 600, cats(worse, worse))
		v := Analyze(sluice.AnalysisSpec{}, in, now)
		if v.Outcome != sluice.OutcomeFail {
			t.Fatalf("outcome %s, want fail: %s", v.Outcome, v.Reason)
		}
		if strings.Contains(v.Reason, "excess") {
			t.Errorf("reason %q names a category for an excess spread over all of them", v.Reason)
		}
	})
}
