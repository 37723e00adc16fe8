package analysis_test

import (
	"math"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/observe"
)

// TestRefusalRateCountsOnlyAnswers: a candidate refuses half of the
// requests it answers, and most of its clients hang up before getting an
// answer (it is slow, or they are impatient): 40 answers, 20 of them
// refusals, and 360 canceled requests. The dashboard's summary says a 50%
// refusal rate (refusals over succeeded requests). The analysis divides the
// refusals by Requests − Errors, which counts the 360 canceled requests as
// answers ("answered is the number of requests that got an answer", and
// the doc's "refusal_rate (refusals per answer)"), and reports 5%: the more
// clients give up on the candidate, the better its refusal rate looks, and
// the verdict and the dashboard disagree on the same window. The
// candidate's refusal_rate should be 20/40 = 50%, as the summary says.
func TestRefusalRateCountsOnlyAnswers(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rec := observe.New(observe.Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	at := t0
	add := func(version string, n int, f func(o *sluice.Observation, i int)) {
		for i := range n {
			at = at.Add(time.Millisecond)
			o := sluice.Observation{At: at, Model: "chat", Version: version, Route: "split", Status: 200,
				Latency: 800 * time.Millisecond, TTFT: 800 * time.Millisecond, OutputTokens: 100, ResponseChars: 500}
			f(&o, i)
			rec.Record(&o)
		}
	}
	add("v1", 400, func(o *sluice.Observation, i int) { o.Refusal = i%50 == 0 }) // 2% refusals
	add("v2", 40, func(o *sluice.Observation, i int) { o.Refusal = i%2 == 0 })   // 50% refusals
	add("v2", 360, func(o *sluice.Observation, i int) {
		o.ErrorClass, o.Status, o.OutputTokens, o.ResponseChars = "canceled", 499, 0, 0
	})

	var summary float64
	for _, s := range rec.Summary("chat", time.Time{}) {
		if s.Version == "v2" {
			summary = s.RefusalRate
		}
	}
	in := analysis.Input{
		Baseline:  analysis.FromSample(rec.Window("chat", "v1", "", time.Time{})),
		Candidate: analysis.FromSample(rec.Window("chat", "v2", "", time.Time{})),
	}
	v := analysis.Analyze(sluice.AnalysisSpec{}, in, t0.Add(time.Hour))
	var got = math.NaN()
	for _, m := range v.Metrics {
		if m.Metric == "refusal_rate" && m.Category == "" {
			got = m.Candidate
			t.Logf("%s", m.Detail)
		}
	}
	if math.Abs(got-0.5) > 1e-9 {
		t.Errorf("candidate answered 40 requests, 20 of them refusals (dashboard summary: refusal rate %.3f), but the analysis reports a refusal rate of %.3f: the 360 canceled requests count as answers",
			summary, got)
	}
}
