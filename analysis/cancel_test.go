package analysis

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// addCancels adds to a the requests whose clients gave up, so that they are
// share of all its requests; like the gateway's windows, they add to
// Requests and leave no latency or length.
func addCancels(a *Arm, share float64) {
	k := int(math.Round(float64(a.Requests) * share / (1 - share)))
	a.Requests += k
	a.Canceled += k
}

// TestAnalyze_CandidateThatHangsFailsOnCancelRate: an operator rolls out a
// candidate that hangs on half of its requests until the clients give up;
// the requests it does finish are as good as the baseline's, which loses
// 2% of its requests to users who stop waiting. The analysis must fail the
// candidate on cancel_rate, and its error rate must not look better than
// the baseline's because the hung requests were counted as non-errors.
func TestAnalyze_CandidateThatHangsFailsOnCancelRate(t *testing.T) {
	in := MustInput(t, 1, 20000, 1000, one(stable, stable))
	addCancels(&in.Baseline, 0.02)
	addCancels(&in.Candidate, 0.5)
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	if v.Outcome != sluice.OutcomeFail {
		t.Fatalf("outcome %s, want fail: %s", v.Outcome, v.Reason)
	}
	c := metric(t, v, "cancel_rate", "")
	t.Log(v.Reason)
	if c.Outcome != sluice.OutcomeFail {
		t.Errorf("cancel_rate row %s, want fail: %s", c.Outcome, c.Detail)
	}
	if math.Abs(c.Candidate-0.5) > 0.01 || math.Abs(c.Baseline-0.02) > 0.001 {
		t.Errorf("cancel rates %.3f vs %.3f, want 0.5 vs 0.02", c.Candidate, c.Baseline)
	}
	if !strings.Contains(v.Reason, "cancel rate: ") {
		t.Errorf("reason %q does not name the cancel rate", v.Reason)
	}
	// The error rate is over the requests whose outcome is known: the
	// hung half says nothing about how many of them would have failed.
	e := metric(t, v, "error_rate", "")
	finished := in.Candidate.Requests - in.Candidate.Canceled
	if want := float64(in.Candidate.Errors) / float64(finished); math.Abs(e.Candidate-want) > 1e-12 || e.CandidateN != finished {
		t.Errorf("candidate error rate %.4f over %d requests, want %.4f over the %d that finished", e.Candidate, e.CandidateN, want, finished)
	}
	if e.Outcome == sluice.OutcomeFail {
		t.Errorf("error_rate fails, though the finished requests fail as often as the baseline's: %s", e.Detail)
	}
}

// TestAnalyze_CancelRateLikeBaselinePasses: both versions lose 3% of their
// requests to users who stop waiting (a chat UI's stop button); the
// candidate is otherwise the same. The cancel rate must pass with the rest.
func TestAnalyze_CancelRateLikeBaselinePasses(t *testing.T) {
	in := MustInput(t, 1, 60000, 30000, one(stable, stable))
	addCancels(&in.Baseline, 0.03)
	addCancels(&in.Candidate, 0.03)
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	if v.Outcome != sluice.OutcomePass {
		t.Fatalf("outcome %s, want pass: %s (failing: %s)", v.Outcome, v.Reason, failing(v))
	}
	if c := metric(t, v, "cancel_rate", ""); c.Outcome != sluice.OutcomePass {
		t.Errorf("cancel_rate row %s, want pass: %s", c.Outcome, c.Detail)
	}
}

// TestAnalyze_CancelRatePerCategory: the candidate hangs only on the
// payments category (a tenth of the traffic). The per-category row must
// catch it.
func TestAnalyze_CancelRatePerCategory(t *testing.T) {
	in := MustInput(t, 1, 40000, 6000, map[string]catSpec{
		"chat":     {weight: 0.9, baseline: stable, candidate: stable},
		"payments": {weight: 0.1, baseline: stable, candidate: stable},
	})
	pay := in.Categories["payments"]
	before := pay.Candidate.Canceled
	addCancels(&pay.Baseline, 0.01)
	in.Baseline.Requests += pay.Baseline.Canceled
	in.Baseline.Canceled += pay.Baseline.Canceled
	addCancels(&pay.Candidate, 0.3)
	in.Candidate.Requests += pay.Candidate.Canceled - before
	in.Candidate.Canceled += pay.Candidate.Canceled - before
	in.Categories["payments"] = pay
	v := Analyze(sluice.AnalysisSpec{}, in, now)
	if v.Outcome != sluice.OutcomeFail {
		t.Fatalf("outcome %s, want fail: %s", v.Outcome, v.Reason)
	}
	if c := metric(t, v, "cancel_rate", "payments"); c.Outcome != sluice.OutcomeFail {
		t.Errorf("cancel_rate in payments %s, want fail: %s", c.Outcome, c.Detail)
	}
}

// TestABReport_ArmThatHangsDoesNotWin: an A/B test ends with a candidate
// that hung on half of its requests until the clients gave up, and that
// is otherwise the baseline. The report must not name it the winner on an
// error rate made smaller by its hung requests: its error rate is over the
// requests that finished, and it loses on cancel_rate.
func TestABReport_ArmThatHangsDoesNotWin(t *testing.T) {
	in := MustInput(t, 3, 20000, 20000, one(stable, stable))
	addCancels(&in.Baseline, 0.02)
	addCancels(&in.Candidate, 0.5)
	rep := ABReport(in, sluice.AnalysisSpec{Alpha: 0.05})
	if rep.Winner != "baseline" {
		t.Fatalf("winner %q, want baseline: %s", rep.Winner, rep.Summary)
	}
	for _, m := range rep.Metrics {
		switch m.Metric {
		case "error_rate":
			if m.Winner != "no difference" {
				t.Errorf("error_rate: %+v", m)
			}
		case "cancel_rate":
			if m.Winner != "baseline" {
				t.Errorf("cancel_rate: %+v", m)
			}
			return
		}
	}
	t.Errorf("no cancel_rate in the report: %s", rep.Summary)
}

// TestFromSample_CancelRate: the gateway records a request whose client
// hung up with error class canceled (status 499). Taken from the
// observation window as the controller takes it, such requests must
// reach the verdict's cancel_rate row and stay out of the error rate.
func TestFromSample_CancelRate(t *testing.T) {
	t0 := now.Add(-time.Hour)
	rec := observe.New(observe.Options{Now: func() time.Time { return now }})
	at := t0
	add := func(version string, n int, class string) {
		for range n {
			at = at.Add(time.Millisecond)
			o := sluice.Observation{At: at, Model: "chat", Version: version, Route: "split", Status: 200,
				Latency: 800 * time.Millisecond, OutputTokens: 100, ResponseChars: 500}
			switch class {
			case "canceled":
				o.ErrorClass, o.Status, o.OutputTokens, o.ResponseChars = class, 499, 0, 0
			case "upstream_5xx":
				o.ErrorClass, o.Status, o.OutputTokens, o.ResponseChars = class, 500, 0, 0
			}
			rec.Record(&o)
		}
	}
	add("v1", 390, "")
	add("v1", 10, "canceled")
	add("v2", 90, "")
	add("v2", 10, "upstream_5xx")
	add("v2", 100, "canceled")
	v := Analyze(sluice.AnalysisSpec{}, Input{
		Baseline:  FromSample(rec.Window("chat", "v1", "", time.Time{})),
		Candidate: FromSample(rec.Window("chat", "v2", "", time.Time{})),
	}, now)
	if c := metric(t, v, "cancel_rate", ""); c.Candidate != 0.5 || c.Baseline != 0.025 || c.CandidateN != 200 {
		t.Errorf("cancel_rate row: %+v", c)
	}
	if e := metric(t, v, "error_rate", ""); e.Candidate != 0.1 || e.CandidateN != 100 {
		t.Errorf("error_rate row: candidate %v over %d, want 10 errors over the 100 finished requests", e.Candidate, e.CandidateN)
	}
}
