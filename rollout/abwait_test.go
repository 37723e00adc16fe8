package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// abWaitEnv is an A/B test of chat v1 against v2 (200 requests per arm)
// on a real Recorder and store with a fake clock, its sample answered a
// minute after it went live (200 in category payments and 100 in general
// per arm), and not yet analysed. Before the test, v2 answered 100 requests of an earlier
// split (a canary that was aborted), which users rate during the test.
func abWaitEnv(t *testing.T, wait *sluice.Duration) (e *rvEnv, rec *observe.Recorder, answered, before time.Time) {
	t.Helper()
	e = newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		rec = observe.New(observe.Options{Now: o.Now})
		o.Windows = rec
	})
	before = e.clock.Now().Add(-10 * time.Minute)
	record := func(version, category string, at time.Time, n int) {
		for range n {
			rec.Record(&sluice.Observation{Model: "chat", Version: version, Category: category, Route: "split", At: at, Status: 200,
				Latency: 300 * time.Millisecond, OutputTokens: 50, ResponseChars: 200})
		}
	}
	record("v2", "payments", before, 100)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 200, ABFeedbackWait: wait})
	answered = e.clock.Now().Add(time.Minute)
	for _, v := range []string{"v1", "v2"} {
		record(v, "payments", answered, 200)
		record(v, "general", answered, 100)
	}
	e.clock.Add(2 * time.Minute)
	return e, rec, answered, before
}

// rate records n users' scores of chat's version in payments given for
// requests answered at at, as the proxy's feedback endpoint records them
// (stamped with the request's time, whenever they arrive).
func rate(rec *observe.Recorder, version string, at time.Time, n int, score func(i int) float64) {
	for i := range n {
		rec.RecordQualityRouted(observe.SourceFeedback, "split", "chat", version, "payments", at, score(i))
	}
}

// TestController_ABFeedbackWait: an A/B test's report was drawn the moment
// the test reached its sample, and users' feedback counted from its
// arrival: in the trial every rating sent 30 s after its answer was
// accepted (202) and none was in the report, which had no quality
// (feedback) row and found no difference where users disliked the
// candidate's payments answers. The test now waits ab_feedback_wait with
// its traffic back on the baseline, and the report counts the scores of
// the test's requests that arrived meanwhile, by their request's version
// and category; neither a score after the report nor one of a request
// answered before the test counts.
func TestController_ABFeedbackWait(t *testing.T) {
	e, rec, answered, before := abWaitEnv(t, nil)
	e.c.Step(e.ctx)
	r := *e.ctl.Registry().Rollouts["chat"]
	if r.Phase != sluice.PhaseProgressing || r.FeedbackWait == nil || r.Percent != 0 || rollout.ABReportOf(r) != nil {
		t.Fatalf("at its sample: phase %s, percent %v, wait %+v, report %v; want progressing at 0%% waiting for feedback, no report yet", r.Phase, r.Percent, r.FeedbackWait, rollout.ABReportOf(r) != nil)
	}
	if got, want := r.FeedbackWait.Until.Sub(r.FeedbackWait.Reached), sluice.DefaultABFeedbackWait; got != want {
		t.Errorf("waits %s, want the default %s", got, want)
	}
	if m := e.ctl.Registry().Models["chat"]; m.Policy.Kind != sluice.PolicySpecific || m.Policy.Version != "v1" {
		t.Errorf("policy during the wait %+v: want the traffic back on v1", m.Policy)
	}
	if ev := r.Events[len(r.Events)-1]; ev.Kind != "feedback_wait" || !strings.Contains(ev.Message, "until") || !strings.Contains(ev.Message, "2m0s") {
		t.Errorf("last event %s %q: want the wait on the timeline, with its length and end", ev.Kind, ev.Message)
	}
	// Users rate 30 s later: the baseline's payments answers all up, the
	// candidate's half down. Ratings of the candidate's answers from
	// before the test (all up) arrive too, and must not count.
	e.clock.Add(30 * time.Second)
	rate(rec, "v1", answered, 100, func(int) float64 { return 1 })
	rate(rec, "v2", answered, 100, func(i int) float64 { return float64(i % 2) })
	rate(rec, "v2", before, 100, func(int) float64 { return 1 })
	e.c.Step(e.ctx)
	if r := e.ctl.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseProgressing || r.FeedbackWait == nil {
		t.Fatalf("30 s into the wait: phase %s, wait %+v; want still waiting", r.Phase, r.FeedbackWait)
	}
	// A new controller (a restart, another leader) goes on from the
	// stored wait: the first one knows nothing the store does not.
	c2 := rollout.New(rollout.Options{Control: e.ctl, Windows: rec, Warmer: &rvWarmer{}, Now: e.clock.Now})
	e.clock.Add(sluice.DefaultABFeedbackWait - 30*time.Second - time.Second)
	c2.Step(e.ctx)
	if r := e.ctl.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseProgressing {
		t.Fatalf("a second before the wait's end: phase %s; want still waiting", r.Phase)
	}
	e.clock.Add(time.Second)
	c2.Step(e.ctx)
	r = *e.ctl.Registry().Rollouts["chat"]
	rep := rollout.ABReportOf(r)
	if r.Phase != sluice.PhaseCompleted || rep == nil {
		t.Fatalf("at the wait's end: phase %s, report %v; want completed with its report", r.Phase, rep != nil)
	}
	var row *struct {
		b, c   float64
		bn, cn int
		winner string
	}
	for _, m := range append(rep.Metrics, rep.Categories...) {
		if m.Metric == "quality" && m.Source == "feedback" && m.Category == "payments" {
			row = &struct {
				b, c   float64
				bn, cn int
				winner string
			}{m.Baseline, m.Candidate, m.BaselineN, m.CandidateN, m.Winner}
		}
	}
	if row == nil {
		t.Fatalf("report %q: no quality (feedback) row in payments: %+v %+v", rep.Summary, rep.Metrics, rep.Categories)
	}
	if row.bn != 100 || row.cn != 100 || row.b != 1 || row.c != 0.5 {
		t.Errorf("quality (feedback) in payments: %v vs %v on %d/%d ratings; want 1 vs 0.5 on 100/100 (the test's requests' ratings only)", row.b, row.c, row.bn, row.cn)
	}
	if row.winner != "baseline" || rep.Winner != "baseline" {
		t.Errorf("winner %q (row %q), summary %q: want the baseline, on users' feedback", rep.Winner, row.winner, rep.Summary)
	}
	var done string
	for _, ev := range r.Events {
		if ev.Kind == "completed" {
			done = ev.Message
		}
	}
	if !strings.Contains(done, "waited 2m0s for users' feedback") {
		t.Errorf("completed event %q: want the wait said", done)
	}
	// Ratings after the report change nothing: it is drawn once.
	e.clock.Add(time.Minute)
	rate(rec, "v2", answered, 100, func(int) float64 { return 1 })
	e.c.Step(e.ctx)
	r = *e.ctl.Registry().Rollouts["chat"]
	n := 0
	for _, ev := range r.Events {
		if ev.Kind == "ab_report" {
			n++
		}
	}
	if n != 1 || rollout.ABReportOf(r).Summary != rep.Summary {
		t.Errorf("after late ratings: %d reports, summary %q; want the one drawn at the wait's end", n, rollout.ABReportOf(r).Summary)
	}
}

// TestController_ABFeedbackWaitActs: during the wait a pause is refused
// (the candidate takes no traffic; nothing to hold), an abort ends the
// test, and conclude completes it at once, its report holding the ratings
// that arrived, and decides it.
func TestController_ABFeedbackWaitActs(t *testing.T) {
	waiting := func(t *testing.T) (*rvEnv, *observe.Recorder, time.Time) {
		e, rec, answered, _ := abWaitEnv(t, nil)
		e.c.Step(e.ctx)
		if r := e.ctl.Registry().Rollouts["chat"]; r.FeedbackWait == nil {
			t.Fatalf("not waiting: %s", r.Phase)
		}
		return e, rec, answered
	}
	t.Run("ErrPause", func(t *testing.T) {
		e, _, _ := waiting(t)
		_, err := e.c.Act(e.ctx, "bob", "chat", rollout.EvPause, "hold on")
		if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(err.Error(), "takes no traffic") || !strings.Contains(err.Error(), "abort") {
			t.Errorf("pause during the wait: %v; want a conflict saying why and what to do", err)
		}
	})
	t.Run("Abort", func(t *testing.T) {
		e, _, _ := waiting(t)
		r := e.act(t, rollout.EvAbort, "changed my mind")
		if r.Phase != sluice.PhaseAborted || r.FeedbackWait != nil {
			t.Errorf("abort during the wait: phase %s, wait %+v; want aborted", r.Phase, r.FeedbackWait)
		}
	})
	t.Run("Conclude", func(t *testing.T) {
		e, rec, answered := waiting(t)
		rate(rec, "v1", answered, 100, func(int) float64 { return 1 })
		rate(rec, "v2", answered, 100, func(i int) float64 { return float64(i % 2) })
		r, err := e.c.Conclude(e.ctx, "bob", "chat", rollout.PickBaseline, "users dislike v2")
		if err != nil {
			t.Fatal(err)
		}
		rep := rollout.ABReportOf(r)
		if r.Phase != sluice.PhaseCompleted || r.FeedbackWait != nil || rep == nil || rep.StoppedEarly || rep.Winner != "baseline" {
			t.Fatalf("conclude during the wait: phase %s, wait %+v, report %+v; want completed, concluded, the report on the ratings so far naming the baseline", r.Phase, r.FeedbackWait, rep)
		}
		if !strings.Contains(r.Decision, "concluded") {
			t.Errorf("decision %q: want the conclusion", r.Decision)
		}
	})
}

// TestValidate_ABFeedbackWait: the wait is an A/B test's alone, from 0 to
// an hour, and defaults to 2m; a bad one is refused naming the field.
func TestValidate_ABFeedbackWait(t *testing.T) {
	d := func(x time.Duration) *sluice.Duration { v := sluice.Duration(x); return &v }
	spec := func(s sluice.Strategy, w *sluice.Duration) sluice.RolloutSpec {
		return sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: s, ABFeedbackWait: w}
	}
	if got := rollout.WithDefaults(spec(sluice.StrategyABTest, nil)).ABFeedbackWait; got == nil || got.D() != 2*time.Minute {
		t.Errorf("default wait %v, want 2m", got)
	}
	if got := rollout.WithDefaults(spec(sluice.StrategyCanary, nil)).ABFeedbackWait; got != nil {
		t.Errorf("a canary's default wait %v, want none", got)
	}
	for _, w := range []*sluice.Duration{d(0), d(time.Hour)} {
		if err := rollout.Validate(rollout.WithDefaults(spec(sluice.StrategyABTest, w))); err != nil {
			t.Errorf("wait %s: %v", w.D(), err)
		}
	}
	for _, w := range []*sluice.Duration{d(-time.Second), d(time.Hour + time.Second)} {
		err := rollout.Validate(rollout.WithDefaults(spec(sluice.StrategyABTest, w)))
		if err == nil || !strings.Contains(err.Error(), "ab_feedback_wait") || !strings.Contains(err.Error(), "such as 2m") {
			t.Errorf("wait %s: %v; want refused, naming the field and a good value", w.D(), err)
		}
	}
	if err := rollout.UnusedSettings(spec(sluice.StrategyCanary, d(time.Minute))); err == nil || !strings.Contains(err.Error(), "--ab-feedback-wait") {
		t.Errorf("a canary's wait: %v; want refused, saying to leave it out", err)
	}
}

// TestController_ABFeedbackWaitBusyBaseline: during the wait every
// request goes to the baseline, whose windows are bounded
// (observe.DefaultWindowSize a category): on a gateway answering some
// 70 requests a second in a category the default 2m wait filled the
// baseline's window with traffic after the sample, which pushed the
// test's own requests out before the report was drawn. The report must
// still compare the sample the test reached.
func TestController_ABFeedbackWaitBusyBaseline(t *testing.T) {
	e, rec, answered, _ := abWaitEnv(t, nil)
	// The proxy's heuristic score of each of the test's answers, given as
	// it answered (the candidate refuses one in ten).
	for _, v := range []string{"v1", "v2"} {
		for i := range 200 {
			score := 1.0
			if v == "v2" && i%10 == 0 {
				score = 0
			}
			rec.RecordQualityRouted(observe.SourceHeuristic, "split", "chat", v, "payments", answered, score)
		}
	}
	e.c.Step(e.ctx)
	r := *e.ctl.Registry().Rollouts["chat"]
	if r.FeedbackWait == nil {
		t.Fatalf("not waiting: %s", r.Phase)
	}
	rate(rec, "v1", answered, 100, func(int) float64 { return 1 })
	rate(rec, "v2", answered, 100, func(i int) float64 { return float64(i % 2) })
	// The baseline takes all the traffic during the wait: one more than a
	// version's window holds, in payments, as the routing sends it (its
	// heuristic scores, one more than a category's ring holds, too).
	during := r.FeedbackWait.Reached.Add(time.Minute)
	for i := range observe.DefaultVersionWindowSize + 1 {
		rec.Record(&sluice.Observation{Model: "chat", Version: "v1", Category: "payments", Route: "policy", At: during, Status: 200,
			Latency: 300 * time.Millisecond, OutputTokens: 50, ResponseChars: 200})
		if i <= observe.DefaultWindowSize {
			rec.RecordQualityRouted(observe.SourceHeuristic, "policy", "chat", "v1", "payments", during, 1)
		}
	}
	e.clock.Add(sluice.DefaultABFeedbackWait)
	e.c.Step(e.ctx)
	r = *e.ctl.Registry().Rollouts["chat"]
	rep := rollout.ABReportOf(r)
	if r.Phase != sluice.PhaseCompleted || rep == nil {
		t.Fatalf("at the wait's end: phase %s, report %v; want completed with its report", r.Phase, rep != nil)
	}
	rows := 0
	found := map[string]bool{}
	for _, m := range rep.Metrics {
		found[m.Name()] = true
		if m.Metric == "quality" && m.Source == "feedback" {
			continue
		}
		if want := map[bool]int{true: 200, false: 300}[m.Source == "heuristic"]; m.BaselineN != want || m.CandidateN != want {
			t.Errorf("%s on %d/%d, want the test's %d/%d: the baseline's traffic during the wait pushed its sample out", m.Name(), m.BaselineN, m.CandidateN, want, want)
		}
	}
	for _, name := range []string{"error_rate", "latency_mean", "quality (heuristic)", "quality (feedback)"} {
		if !found[name] {
			t.Errorf("report %q has no %s row: the baseline's traffic during the wait pushed the test's sample out of its windows", rep.Summary, name)
		}
	}
	for _, m := range rep.Categories {
		if m.Category != "payments" {
			continue
		}
		rows++
		if m.Metric == "quality" && m.Source == "feedback" {
			if m.BaselineN != 100 || m.CandidateN != 100 {
				t.Errorf("quality (feedback) in payments on %d/%d ratings, want 100/100", m.BaselineN, m.CandidateN)
			}
			continue
		}
		if m.BaselineN != 200 || m.CandidateN != 200 {
			t.Errorf("%s (%s) in payments on %d/%d requests, want the test's 200/200: the baseline's traffic during the wait pushed its sample out", m.Metric, m.Source, m.BaselineN, m.CandidateN)
		}
	}
	if rows == 0 {
		t.Errorf("report %q has no rows in payments: %+v", rep.Summary, rep.Categories)
	}
}
