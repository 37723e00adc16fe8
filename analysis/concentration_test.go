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

// TestConcentration_Criterion checks the rule on counts. The first are
// those of the simulator's run 23 of the hangs scenario (the candidate
// hangs on 10% of requests in every category; seed 1) as far as its
// reason gives them: 23 cancels in 203 requests, 14 of them in code's 65,
// where chance put 67% of the excess at 4.4 times the rest's per request;
// the rule of half the excess and twice the category's share of the
// sample called that concentrated in code. A category holding most of the
// excess on a tenth of the traffic is, and so is payments for the
// tool-call rate, though it is most of the requests that offer tools.
func TestConcentration_Criterion(t *testing.T) {
	tr := newTester(WithDefaults(sluice.AnalysisSpec{}))
	type counts struct{ x, n int }
	rows := func(cand map[string]counts) (overall row, cats []row) {
		xc, nc := 0, 0
		for _, name := range []string{"chat", "code", "payments", "search"} {
			c := cand[name]
			xc, nc = xc+c.x, nc+c.n
			cats = append(cats, tr.rate(&mCancels, name, 210, 10000, c.x, c.n))
		}
		return tr.rate(&mCancels, "", 840, 40000, xc, nc), cats
	}
	t.Run("ToolCallsDropInPayments", func(t *testing.T) {
		// tool_calls_drop's candidate calls transfer_funds in 55% of its
		// payments answers where the stable version calls it in 90%; search
		// offers tools too and is unchanged.
		overall := tr.rate(&mToolCalls, "", 3480, 4000, 60+17, 100)
		cats := []row{
			tr.rate(&mToolCalls, "payments", 2300, 2640, 17, 33),
			tr.rate(&mToolCalls, "search", 1180, 1360, 60, 67),
		}
		got := concentration(&overall, []*row{&overall}, cats)
		if want := ", most of the difference in category payments: 17 tool calls in 33 answers to requests with tools (51.5% vs 87.1%), not yet significant on their own"; got != want {
			t.Errorf("concentration = %q, want %q", got, want)
		}
	})
	for _, c := range []struct {
		name string
		cand map[string]counts
		want string
	}{
		{"SpreadButCodeUnlucky", map[string]counts{"chat": {6, 101}, "code": {14, 65}, "search": {2, 22}, "payments": {1, 15}}, ""},
		{"Payments", map[string]counts{"chat": {3, 130}, "code": {1, 65}, "search": {1, 39}, "payments": {14, 26}}, "category payments: 14 cancels in 26 requests"},
		// Two categories share the excess: neither holds ten times the
		// rest's per request alone (the other is in the rest), together
		// all of it. One name alone said nothing; both are named.
		{"TwoCategories", map[string]counts{"chat": {3, 130}, "code": {1, 65}, "search": {9, 39}, "payments": {8, 26}},
			"most of the excess in categories search and payments: 9 cancels in 39 requests (23.1% vs 2.1%, not yet significant on their own) and 8 cancels in 26 requests (30.8% vs 2.1%, too few to test on their own)"},
		// Payments holds 48% of the excess, chat 30%, code 15%: chat's
		// excess per request is no ten times the rest's, so neither one
		// nor two categories hold it.
		// errors_up's run 71 (1% to 5% errors everywhere): chat and code,
		// three quarters of the requests, by chance held all the excess
		// at over ten times the rest's per request. Naming most of the
		// traffic says nothing.
		{"TwoButMostOfTheTraffic", map[string]counts{"chat": {12, 196}, "code": {11, 123}, "search": {1, 60}, "payments": {0, 40}}, ""},
		{"SpreadOverThree", map[string]counts{"chat": {8, 130}, "code": {4, 65}, "search": {2, 39}, "payments": {9, 26}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			overall, cats := rows(c.cand)
			got := concentration(&overall, []*row{&overall}, cats)
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("concentration = %q, want %q", got, c.want)
			}
		})
	}
}

// TestConcentration_CategoryWithinItsThreshold: a category can hold most
// of an overall rate's excess and be tested, significant, and still not
// fail, because its own threshold (half its baseline's rate) is higher
// than the overall one: payments refuse 30% on the stable version and 44%
// on the candidate (+14 points, threshold +15), the rest 1% and 1.7%, so
// the overall refusal rate fails (+2.0 points, threshold +1.95) with 69%
// of its excess in payments. The reason said payments were "not yet
// significant on their own", which is false (its adjusted p is about
// 1e-5): it is
// within its threshold.
func TestConcentration_CategoryWithinItsThreshold(t *testing.T) {
	arm := func(requests, refusals int) Arm { return Arm{Requests: requests, Refusals: refusals} }
	pay := Pair{Baseline: arm(10000, 3000), Candidate: arm(400, 176)}
	rest := Pair{Baseline: arm(90000, 900), Candidate: arm(3600, 61)}
	in := Input{
		Baseline:   arm(100000, 3900),
		Candidate:  arm(4000, 237),
		Categories: map[string]Pair{"payments": pay, "chat": rest},
	}
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	if v.Outcome != sluice.OutcomeFail || failing(v) != "refusal_rate/" {
		t.Fatalf("outcome %s, failing %q, want a fail on the overall refusal rate alone: %s", v.Outcome, failing(v), v.Reason)
	}
	row := metric(t, v, "refusal_rate", "payments")
	if row.PValue > 0.001 {
		t.Fatalf("payments' refusal row at p %v: the premise (significant, within its threshold) does not hold", row.PValue)
	}
	if strings.Contains(v.Reason, "significant") {
		t.Errorf("reason %q says payments are not significant; its row is at p %.2g, within its threshold", v.Reason, row.PValue)
	}
	if want := "most of the excess in category payments: 176 refusals in 400 answers (44.0% vs 30.0%), within the category's own threshold (+47%, threshold +50%)"; !strings.Contains(v.Reason, want) {
		t.Errorf("reason\n%q, want it to contain\n%q", v.Reason, want)
	}
}
