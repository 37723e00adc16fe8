package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/rollout"
)

// TestGetRollout_ABLateFeedback: a completed A/B test's status answered its
// report and nothing of the users' ratings that arrived after it, which
// the store keeps. It now answers them beside the report
// (ab_late_feedback), per arm, for a viewer too, and for an ended test
// read by id; a report stored before reports kept their span answers
// none, rather than a count of zero it cannot know.
func TestGetRollout_ABLateFeedback(t *testing.T) {
	e := MustEnv(t)
	ctx := context.Background()
	e.MustRegister(t,
		sluice.Version{Model: "ab", Version: "v1", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction},
		sluice.Version{Model: "ab", Version: "v2", Endpoints: []string{"http://127.0.0.1:9002"}, Stage: sluice.StageStaging})
	if _, err := e.Oper.SetPolicy(ctx, "ab", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, "setup"); err != nil {
		t.Fatal(err)
	}
	MustCompleteABTest(t, e, "ab", "v1", "v2")
	live := t0
	reached := t0.Add(time.Minute)
	read := reached.Add(sluice.DefaultABFeedbackWait)
	// The report as the controller draws it now: with its span.
	_, err := e.Ctl.Do(ctx, "setup", "the report's span", func(ed *sluice.Edit) error {
		r := *ed.Registry().Rollouts["ab"]
		rep := rollout.ABReportOf(r)
		rep.SampleFrom, rep.SampleUntil, rep.ScoresRead = live, reached, read
		rep.Metrics = []analysis.ABMetric{{Metric: "quality", Source: "feedback", Baseline: 1, Candidate: 1, BaselineN: 2, CandidateN: 2, PValue: 1, Winner: "no difference"}}
		r.Events[len(r.Events)-1].Data, _ = json.Marshal(rep)
		return ed.PutRollout(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	claim := func(version, route string, answered, at time.Time, score float64) {
		t.Helper()
		n++
		if ok, err := e.Store.ClaimFeedback(ctx, sluice.Feedback{RequestID: fmt.Sprintf("req_ab_%d", n), Model: "ab", Version: version, Route: route,
			AnsweredAt: answered, Score: score, At: at}); !ok || err != nil {
			t.Fatalf("claim: %v %v", ok, err)
		}
	}
	mid := live.Add(30 * time.Second)
	for range 2 { // the report's
		claim("v1", "split", mid, read.Add(-time.Second), 1)
		claim("v2", "split", mid, read.Add(-time.Second), 1)
	}
	morning := read.Add(14 * time.Hour)
	claim("v1", "split", mid, morning, 1)
	claim("v2", "split", mid, morning, 0)
	claim("v2", "split", mid, morning, 0)
	claim("v2", "pin", mid, morning, 0)                        // not the split's
	claim("v1", "split", reached.Add(time.Second), morning, 0) // during the wait

	st, err := e.Viewer.Rollout(ctx, "ab")
	if err != nil {
		t.Fatal(err)
	}
	late := st.ABLateFeedback
	if late == nil || st.ABLateFeedbackError != "" {
		t.Fatalf("status of the completed test: late %+v (%q), want the ratings after its report", late, st.ABLateFeedbackError)
	}
	if b, c := late.Baseline, late.Candidate; b.Version != "v1" || b.Ratings != 1 || b.Up != 1 || b.Total != 3 ||
		c.Version != "v2" || c.Ratings != 2 || c.Down != 2 || c.Mean != 0 || c.Total != 4 {
		t.Errorf("late ratings baseline %+v, candidate %+v: want 1 up of 3 in all, and 2 down of 4", b, c)
	}
	if !late.After.Equal(read) {
		t.Errorf("late after %s, want the report's read %s", late.After, read)
	}
	// By id, as the History tab reads an ended test, and in the JSON's
	// own words.
	resp := e.do(t, http.MethodGet, "/admin/v1/rollouts/ab?id="+st.Rollout.ID, viewerSecret, nil)
	resp.want(t, http.StatusOK)
	var compact bytes.Buffer
	if err := json.Compact(&compact, resp.Body); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ab_late_feedback":{`, `"ratings":2,"up":0,"down":2`} {
		if !strings.Contains(compact.String(), want) {
			t.Errorf("status by id %s: no %s", compact.String(), want)
		}
	}

	// A report stored before reports kept their span: nothing to say.
	_, err = e.Ctl.Do(ctx, "setup", "an older report", func(ed *sluice.Edit) error {
		r := *ed.Registry().Rollouts["ab"]
		r.Events[len(r.Events)-1].Data, _ = json.Marshal(analysis.Report{Winner: "candidate", Summary: "s", BaselineN: 150, CandidateN: 150})
		return ed.PutRollout(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := e.Viewer.Rollout(ctx, "ab"); err != nil || st.ABLateFeedback != nil || st.ABReport == nil {
		t.Errorf("an older report: late %+v (%v), report %v; want the report alone", st.ABLateFeedback, err, st.ABReport != nil)
	}
}

// hungRatings is a store whose reads of users' ratings hang, as a
// PostgreSQL behind a partition does until its call's bound.
type hungRatings struct{ sluice.Store }

func (h hungRatings) Feedback(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.Feedback, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestGetRollout_ABLateFeedbackStoreHangs: the rollout's status is the
// registry's, answered from memory; the late ratings beside its A/B report
// are the one thing in it read from the store, at each status (the
// dashboard asks every few seconds). With the store hung, the status
// waited on that read for as long as the request lasted (PostgreSQL's own
// bound is 15 s; SQLite's none): `sluice rollout status` in an incident
// hung. The read has a short bound of its own, and the status answers
// without the late ratings, saying why.
func TestGetRollout_ABLateFeedbackStoreHangs(t *testing.T) {
	e := mustEnvWith(t, func(s sluice.Store) sluice.Store { return hungRatings{s} })
	ctx := context.Background()
	e.MustRegister(t,
		sluice.Version{Model: "ab", Version: "v1", Endpoints: []string{"http://127.0.0.1:9001"}, Stage: sluice.StageProduction},
		sluice.Version{Model: "ab", Version: "v2", Endpoints: []string{"http://127.0.0.1:9002"}, Stage: sluice.StageStaging})
	if _, err := e.Oper.SetPolicy(ctx, "ab", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, "setup"); err != nil {
		t.Fatal(err)
	}
	MustCompleteABTest(t, e, "ab", "v1", "v2")
	_, err := e.Ctl.Do(ctx, "setup", "the report's span", func(ed *sluice.Edit) error {
		r := *ed.Registry().Rollouts["ab"]
		rep := rollout.ABReportOf(r)
		rep.SampleFrom, rep.SampleUntil, rep.ScoresRead = t0, t0.Add(time.Minute), t0.Add(3*time.Minute)
		r.Events[len(r.Events)-1].Data, _ = json.Marshal(rep)
		return ed.PutRollout(r)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The client gives up well past the read's bound, and well before a
	// status that waits on the store for ever would answer.
	cl := *e.Viewer
	cl.HTTP = &http.Client{Timeout: 4 * api.LateFeedbackTimeout}
	st, err := cl.Rollout(ctx, "ab")
	if err != nil {
		t.Fatalf("status of a completed A/B test with the store hung: %v; want it answered", err)
	}
	if st.ABReport == nil || st.ABLateFeedback != nil || !strings.Contains(st.ABLateFeedbackError, "could not be read") {
		t.Errorf("status: report %v, late %+v, error %q; want the report, and the late ratings said to be unread", st.ABReport != nil, st.ABLateFeedback, st.ABLateFeedbackError)
	}
}
