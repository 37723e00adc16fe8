package rollout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_ABReportStoredGrades: the LLM judge grades a sample of an
// A/B test's answers, and each grade went to the windows of the process
// that took it alone. A gateway restarted during the test's wait for late
// scores (or a new leader) seeds its windows from the request log, which
// holds no grade, so the report had no quality (judge) row at all. The
// judge now stores each grade as it records it, and the report counts the
// store's grades of its sample's split answers, as it counts the ratings;
// when the windows hold more (a replica of an older binary grades without
// storing, on a fleet mid-upgrade), it counts the windows', as before.
func TestController_ABReportStoredGrades(t *testing.T) {
	for _, c := range []struct {
		name string
		// windows is the grades per arm the new process's windows hold;
		// the store holds 40 per arm.
		windows  int
		wantN    int
		wantDiff bool
	}{
		// A restart: the windows were seeded from the request log.
		{"Restarted", 0, 40, true},
		// A fleet mid-upgrade: older replicas' grades reached the
		// windows alone (their flushes), 100 a side.
		{"OlderReplica", 100, 100, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var grades rollout.GradeReader
			e, rec, answered, before := abWaitEnv(t, nil)
			st := e.ctl.Store()
			grades = st
			e.c.Step(e.ctx)
			if r := e.ctl.Registry().Rollouts["chat"]; r.FeedbackWait == nil {
				t.Fatalf("at its sample: phase %s; want waiting for feedback", r.Phase)
			}
			// The judge grades 40 of each arm's payments answers (the
			// baseline's 0.9, the candidate's 0.3), recorded and stored
			// as the server's judge does; and answers not in the sample:
			// one routed by a pin, and the candidate's before the test.
			judge := func(version, route string, at time.Time, i int, score float64) {
				rec.RecordQualityRouted(observe.SourceJudge, route, "chat", version, "payments", at, score)
				if err := st.AddJudgeGrade(e.ctx, sluice.JudgeGrade{RequestID: fmt.Sprintf("req_%s_%s_%d", version, route, i), Model: "chat", Version: version,
					Category: "payments", Route: route, AnsweredAt: at, Score: score, At: e.clock.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 40 {
				judge("v1", "split", answered, i, 0.9)
				judge("v2", "split", answered, i, 0.3)
				judge("v2", "pin", answered, i, 1)
				judge("v2", "split", before, 1000+i, 1)
			}
			// The process restarts: its windows hold the sample's requests
			// (seeded from the request log) and no grade, or, on a fleet
			// mid-upgrade, the flushed grades of every replica.
			rec2 := observe.New(observe.Options{Now: e.clock.Now})
			for _, v := range []string{"v1", "v2"} {
				for range 200 {
					rec2.Record(&sluice.Observation{Model: "chat", Version: v, Category: "payments", Route: "split", At: answered, Status: 200,
						Latency: 300 * time.Millisecond, OutputTokens: 50, ResponseChars: 200})
				}
				for range 100 {
					rec2.Record(&sluice.Observation{Model: "chat", Version: v, Category: "general", Route: "split", At: answered, Status: 200,
						Latency: 300 * time.Millisecond, OutputTokens: 50, ResponseChars: 200})
				}
			}
			for range c.windows {
				rec2.RecordQualityRouted(observe.SourceJudge, "split", "chat", "v1", "payments", answered, 0.5)
				rec2.RecordQualityRouted(observe.SourceJudge, "split", "chat", "v2", "payments", answered, 0.5)
			}
			c2 := rollout.New(rollout.Options{Control: e.ctl, Windows: rec2, Warmer: &rvWarmer{}, Now: e.clock.Now, Feedback: st, Grades: grades})
			e.clock.Add(sluice.DefaultABFeedbackWait)
			c2.Step(e.ctx)
			r := *e.ctl.Registry().Rollouts["chat"]
			rep := rollout.ABReportOf(r)
			if r.Phase != sluice.PhaseCompleted || rep == nil {
				t.Fatalf("at the wait's end: phase %s, report %v; want completed with its report", r.Phase, rep != nil)
			}
			var row string
			for _, m := range rep.Metrics {
				if m.Metric != "quality" || m.Source != observe.SourceJudge {
					continue
				}
				row = fmt.Sprintf("%d/%d, %.2f against %.2f", m.BaselineN, m.CandidateN, m.Baseline, m.Candidate)
				if m.BaselineN != c.wantN || m.CandidateN != c.wantN {
					t.Errorf("quality (judge) on %s grades; want %d a side", row, c.wantN)
				}
				if got := m.Winner == "baseline"; got != c.wantDiff {
					t.Errorf("quality (judge) %s: winner %s", row, m.Winner)
				}
			}
			if row == "" {
				t.Fatalf("report %q has no quality (judge) row: %+v", rep.Summary, rep.Metrics)
			}
			if !rep.SampleFrom.Equal(r.LiveAt) || rep.SampleUntil.IsZero() || rep.ScoresRead.Before(rep.SampleUntil) {
				t.Errorf("report span %s to %s, scores read %s; want from the test's start (%s) to its sample, read after it", rep.SampleFrom, rep.SampleUntil, rep.ScoresRead, r.LiveAt)
			}
		})
	}
}
