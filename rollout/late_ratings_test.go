package rollout_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestLateFeedback: users rate an A/B test's answers after its report was
// drawn (a thumbs-down the next morning). The report cleared the sample's
// end from the rollout and nothing could select those ratings: status, the
// API and the dashboard said nothing of them. The report now keeps its
// span, and LateFeedback counts, per arm, the ratings of the sample's
// split answers that arrived after it (thumbs up and down, mean), with all
// ratings now, and draws no verdict on them; ratings the report had,
// ratings of answers outside the sample (before the test, during the
// wait, routed by a pin) are not late ones. The report does not change.
func TestLateFeedback(t *testing.T) {
	e, rec, answered, before := abWaitEnv(t, nil)
	st := e.ctl.Store()
	c := rollout.New(rollout.Options{Control: e.ctl, Windows: rec, Warmer: &rvWarmer{}, Now: e.clock.Now, Feedback: st, Grades: st})
	c.Step(e.ctx)
	r := *e.ctl.Registry().Rollouts["chat"]
	if r.FeedbackWait == nil {
		t.Fatalf("at its sample: phase %s; want waiting for feedback", r.Phase)
	}
	duringWait := r.FeedbackWait.Reached.Add(10 * time.Second)
	n := 0
	claim := func(version, route string, at time.Time, score float64) {
		t.Helper()
		n++
		f := sluice.Feedback{RequestID: fmt.Sprintf("req_%d", n), Model: "chat", Version: version, Category: "payments", Route: route,
			AnsweredAt: at, Score: score, At: e.clock.Now()}
		if ok, err := st.ClaimFeedback(e.ctx, f); !ok || err != nil {
			t.Fatalf("claim %+v: %v %v", f, ok, err)
		}
	}
	// During the wait users like both arms alike: 40 thumbs up a side.
	e.clock.Add(30 * time.Second)
	for range 40 {
		claim("v1", "split", answered, 1)
		claim("v2", "split", answered, 1)
	}
	e.clock.Add(sluice.DefaultABFeedbackWait)
	c.Step(e.ctx)
	r = *e.ctl.Registry().Rollouts["chat"]
	rep := rollout.ABReportOf(r)
	if r.Phase != sluice.PhaseCompleted || rep == nil {
		t.Fatalf("at the wait's end: phase %s, report %v; want completed with its report", r.Phase, rep != nil)
	}
	drawn, _ := json.Marshal(rep)
	late, err := rollout.LateFeedback(e.ctx, st, r)
	if err != nil || late == nil || late.Baseline.Ratings+late.Candidate.Ratings != 0 || late.Baseline.Total != 40 || late.Candidate.Total != 40 {
		t.Fatalf("right after the report: %+v (%v); want no late rating, 40 a side in all", late, err)
	}

	// The next morning: the candidate's users turn it down (25 thumbs
	// down, a 0.5), the baseline's give 5 thumbs up; ratings outside the
	// sample arrive too.
	e.clock.Add(14 * time.Hour)
	for i := range 26 {
		if i == 25 {
			claim("v2", "split", answered, 0.5)
			continue
		}
		claim("v2", "split", answered, 0)
	}
	for range 5 {
		claim("v1", "split", answered, 1)
	}
	claim("v2", "split", before, 0)     // before the test
	claim("v2", "pin", answered, 0)     // routed on purpose, not by the split
	claim("v1", "split", duringWait, 0) // the baseline's answer during the wait

	late, err = rollout.LateFeedback(e.ctx, st, r)
	if err != nil || late == nil {
		t.Fatalf("late ratings: %+v, %v", late, err)
	}
	if b := late.Baseline; b.Version != "v1" || b.Ratings != 5 || b.Up != 5 || b.Down != 0 || b.Mean != 1 || b.Total != 45 || b.TotalMean != 1 {
		t.Errorf("baseline's late ratings %+v: want 5, all up, 45 in all", b)
	}
	if cd := late.Candidate; cd.Version != "v2" || cd.Ratings != 26 || cd.Up != 0 || cd.Down != 25 || cd.Mean != 0.5/26 || cd.Total != 66 {
		t.Errorf("candidate's late ratings %+v: want 26, 25 down and one 0.5, 66 in all", cd)
	}
	if late.Categories != nil {
		t.Errorf("late ratings of one category split by category: %+v", late.Categories)
	}
	if !late.After.Equal(rep.ScoresRead) {
		t.Errorf("late after %s, want the report's read %s", late.After, rep.ScoresRead)
	}
	// Counts and means, and no verdict redrawn on them: the late raters
	// are not the test's sample, and a verdict that moves as they come
	// in is a peek.
	if j, _ := json.Marshal(late); strings.Contains(string(j), "winner") || strings.Contains(string(j), "summary") {
		t.Errorf("late ratings %s: a verdict drawn on them beside the report; want their counts and means alone", j)
	}
	// The report is as drawn.
	r = *e.ctl.Registry().Rollouts["chat"]
	if now, _ := json.Marshal(rollout.ABReportOf(r)); string(now) != string(drawn) {
		t.Errorf("the report changed after it was drawn:\n%s\nwas\n%s", now, drawn)
	}
}

// TestLateFeedback_ByCategory: late ratings were shown for all traffic
// only, while the report beside them compares each request category: a
// wave of next-morning thumbs-down confined to one category showed as a
// dip of the candidate's overall mean. They are now counted per category
// too, when the sample's ratings span two categories or more (one
// category: none, as TestLateFeedback has).
//
// During the wait each arm gets 10 thumbs up in payments and 10 in
// search; after the report the baseline gets 2 more up in payments and the
// candidate 8 down in search. By hand:
//
//	payments  baseline:  late 2 (2 up, mean 1),  all 12, mean 12/12 = 1
//	          candidate: late 0,                 all 10, mean 1
//	search    baseline:  late 0,                 all 10, mean 1
//	          candidate: late 8 (8 down, mean 0), all 18, mean 10/18
//	all       baseline:  late 2, all 22; candidate: late 8, all 28, mean 20/28
func TestLateFeedback_ByCategory(t *testing.T) {
	e, c, answered, claimAt := lateCategoryEnv(t)
	st := e.ctl.Store()
	claim := func(version, category string, score float64) { t.Helper(); claimAt(version, category, answered, score) }
	e.clock.Add(30 * time.Second)
	for range 10 {
		for _, v := range []string{"v1", "v2"} {
			claim(v, "payments", 1)
			claim(v, "search", 1)
		}
	}
	e.clock.Add(sluice.DefaultABFeedbackWait)
	c.Step(e.ctx)
	r := *e.ctl.Registry().Rollouts["chat"]
	if rollout.ABReportOf(r) == nil {
		t.Fatalf("no report at the wait's end: phase %s", r.Phase)
	}
	e.clock.Add(14 * time.Hour)
	claim("v1", "payments", 1)
	claim("v1", "payments", 1)
	for range 8 {
		claim("v2", "search", 0)
	}
	late, err := rollout.LateFeedback(e.ctx, st, r)
	if err != nil || late == nil {
		t.Fatalf("late ratings: %+v, %v", late, err)
	}
	want := rollout.LateRatings{After: late.After,
		Baseline:  rollout.LateArm{Version: "v1", Ratings: 2, Up: 2, Mean: 1, Total: 22, TotalMean: 1},
		Candidate: rollout.LateArm{Version: "v2", Ratings: 8, Down: 8, Mean: 0, Total: 28, TotalMean: 20.0 / 28},
		Categories: []rollout.LateCategory{
			{Category: "payments",
				Baseline:  rollout.LateArm{Version: "v1", Ratings: 2, Up: 2, Mean: 1, Total: 12, TotalMean: 1},
				Candidate: rollout.LateArm{Version: "v2", Total: 10, TotalMean: 1}},
			{Category: "search",
				Baseline:  rollout.LateArm{Version: "v1", Total: 10, TotalMean: 1},
				Candidate: rollout.LateArm{Version: "v2", Ratings: 8, Down: 8, Mean: 0, Total: 18, TotalMean: 10.0 / 18}},
		}}
	got, _ := json.Marshal(late)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Errorf("late ratings\n%s\nwant\n%s", got, wantJSON)
	}
}

// TestLateFeedback_CategoriesAsTheReportNames: the late ratings by
// category grouped the stored ratings by the category their request sent,
// raw, where the report's rows (from the recorder's windows) name an
// answer without one observe.NoCategory and fold the categories past the
// first observe.DefaultMaxCategories into observe.OtherCategory: a rating
// of an uncategorized answer was listed under "" beside the report's
// "none", and a client sending a new category on each request it rated
// (64 bytes of anything, per request) made the status, which the
// dashboard asks for every few seconds, list one category per rating.
// Here 3 ratings a side of answers without a category, then one of each
// of 40 categories: "none" and 31 named ones, then "other" with the 9
// past the 32.
func TestLateFeedback_CategoriesAsTheReportNames(t *testing.T) {
	e, c, answered, claimAt := lateCategoryEnv(t)
	st := e.ctl.Store()
	claim := func(version, category string, at time.Time) { t.Helper(); claimAt(version, category, at, 1) }
	e.clock.Add(sluice.DefaultABFeedbackWait + 30*time.Second)
	c.Step(e.ctx)
	r := *e.ctl.Registry().Rollouts["chat"]
	if rollout.ABReportOf(r) == nil {
		t.Fatalf("no report at the wait's end: phase %s", r.Phase)
	}
	e.clock.Add(time.Hour)
	for range 3 {
		claim("v1", "", answered)
		claim("v2", "", answered)
	}
	// Answered one after another, as the recorder saw them.
	for i := range 40 {
		claim("v2", fmt.Sprintf("c%02d", i), answered.Add(time.Duration(i+1)*time.Millisecond))
	}
	late, err := rollout.LateFeedback(e.ctx, st, r)
	if err != nil || late == nil {
		t.Fatalf("late ratings: %+v, %v", late, err)
	}
	got := map[string]int{}
	for _, c := range late.Categories {
		got[c.Category] = c.Baseline.Ratings + c.Candidate.Ratings
	}
	if len(late.Categories) != 33 || got["none"] != 6 || got["other"] != 9 || got["c30"] != 1 || got["c31"] != 0 || got[""] != 0 {
		t.Errorf("%d categories %v: want none (6), c00 to c30 (1 each) and other (9), 33 in all", len(late.Categories), got)
	}
	if late.Candidate.Ratings != 43 || late.Baseline.Ratings != 3 {
		t.Errorf("all traffic: %d and %d late ratings, want 3 and 43", late.Baseline.Ratings, late.Candidate.Ratings)
	}
}

// lateCategoryEnv is an A/B test of chat at its sample, waiting for
// feedback (abWaitEnv), its controller, when its answers were given, and
// claim, which stores a split answer's rating by version, in category,
// answered at, with score, at the clock's time.
func lateCategoryEnv(t *testing.T) (e *rvEnv, c *rollout.Controller, answered time.Time, claim func(version, category string, at time.Time, score float64)) {
	t.Helper()
	e, rec, answered, _ := abWaitEnv(t, nil)
	st := e.ctl.Store()
	c = rollout.New(rollout.Options{Control: e.ctl, Windows: rec, Warmer: &rvWarmer{}, Now: e.clock.Now, Feedback: st, Grades: st})
	c.Step(e.ctx)
	n := 0
	claim = func(version, category string, at time.Time, score float64) {
		t.Helper()
		n++
		f := sluice.Feedback{RequestID: fmt.Sprintf("req_%d", n), Model: "chat", Version: version, Category: category, Route: "split",
			AnsweredAt: at, Score: score, At: e.clock.Now()}
		if ok, err := st.ClaimFeedback(e.ctx, f); !ok || err != nil {
			t.Fatalf("claim %+v: %v %v", f, ok, err)
		}
	}
	return e, c, answered, claim
}
