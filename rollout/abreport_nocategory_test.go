package rollout_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_ABReportStoredRatingsWithoutCategory: the report reads
// users' ratings from the store, each with its answer's category as the
// request sent it, and matched them to its category rows by that name;
// the rows are the recorder's, which names an answer without a category
// observe.NoCategory. So the ratings of uncategorized answers counted in
// all traffic but never in the "none" rows: the report dropped that
// category's quality (feedback) row (its windows' scores are replaced by
// the store's, and the store had none by that name). Here half the test's
// answers have no category, 30 ratings a side of them are stored, and
// the "none" rows have their quality (feedback) row on 30 and 30.
func TestController_ABReportStoredRatingsWithoutCategory(t *testing.T) {
	var rec *observe.Recorder
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		rec = observe.New(observe.Options{Now: o.Now})
		o.Windows = rec
	})
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyABTest, ABSamples: 200})
	answered := e.clock.Now().Add(time.Minute)
	for _, v := range []string{"v1", "v2"} {
		for _, cat := range []string{"", "payments"} {
			for range 100 {
				rec.Record(&sluice.Observation{Model: "chat", Version: v, Category: cat, Route: "split", At: answered, Status: 200,
					Latency: 300 * time.Millisecond, OutputTokens: 50, ResponseChars: 200})
			}
		}
	}
	e.clock.Add(2 * time.Minute)
	st := e.ctl.Store()
	c := rollout.New(rollout.Options{Control: e.ctl, Windows: rec, Warmer: &rvWarmer{}, Now: e.clock.Now, Feedback: st, Grades: st})
	c.Step(e.ctx)
	e.clock.Add(30 * time.Second)
	n := 0
	for range 30 {
		for _, v := range []string{"v1", "v2"} {
			n++
			f := sluice.Feedback{RequestID: fmt.Sprintf("req_%d", n), Model: "chat", Version: v, Route: "split", AnsweredAt: answered, Score: 1, At: e.clock.Now()}
			if ok, err := st.ClaimFeedback(e.ctx, f); !ok || err != nil {
				t.Fatalf("claim %+v: %v %v", f, ok, err)
			}
		}
	}
	e.clock.Add(sluice.DefaultABFeedbackWait)
	c.Step(e.ctx)
	rep := rollout.ABReportOf(*e.ctl.Registry().Rollouts["chat"])
	if rep == nil {
		t.Fatal("no report at the wait's end")
	}
	var rows []string
	found := false
	for _, m := range rep.Categories {
		rows = append(rows, m.Name()+" in "+m.Category)
		if m.Category == observe.NoCategory && m.Metric == "quality" && m.Source == "feedback" {
			found = m.BaselineN == 30 && m.CandidateN == 30
		}
	}
	if !found {
		t.Errorf("no quality (feedback) row on 30 and 30 in category %s: %v", observe.NoCategory, rows)
	}
}
