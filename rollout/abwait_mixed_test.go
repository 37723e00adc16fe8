package rollout_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// storedRatings is a FeedbackReader: the ratings a store keeps, and how
// many claims it holds without a score (an older binary's).
type storedRatings struct {
	fs       []sluice.Feedback
	unscored int64
}

func (s storedRatings) Feedback(_ context.Context, q sluice.FeedbackQuery) ([]sluice.Feedback, error) {
	var out []sluice.Feedback
	for _, f := range s.fs {
		if f.Model == q.Model && !f.AnsweredAt.Before(q.Since) && (q.Until.IsZero() || f.AnsweredAt.Before(q.Until)) {
			out = append(out, f)
		}
	}
	return out, nil
}

func (s storedRatings) UnscoredFeedback(context.Context, time.Time) (int64, error) {
	return s.unscored, nil
}

// TestController_ABReportMixedFleet: an A/B test's report reads users'
// ratings from the store, where a replica of this binary keeps each with
// its score; a replica of an older binary (a fleet mid-upgrade) claims a
// rating with no score, which reaches the windows alone. The report drawn
// by a new leader then counted none of those: its quality (feedback) row
// held only the upgraded replicas' ratings. With such claims in the store
// it counts the windows' ratings, as before scores were stored.
func TestController_ABReportMixedFleet(t *testing.T) {
	for _, c := range []struct {
		name                   string
		unscored               int64
		wantBaseline, wantCand int
	}{
		// Every replica upgraded: the store's ratings, not the windows'.
		{"AllStored", 0, 40, 40},
		// An older replica took some: the windows', which hold all.
		{"OlderReplica", 100, 100, 100},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, rec, answered, _ := abWaitEnv(t, nil)
			e.c.Step(e.ctx)
			if r := e.ctl.Registry().Rollouts["chat"]; r.FeedbackWait == nil {
				t.Fatalf("at its sample: phase %s; want waiting for feedback", r.Phase)
			}
			e.clock.Add(30 * time.Second)
			// The windows hold 100 ratings per arm (flushed by every
			// replica, old and new); the store the 40 per arm the
			// upgraded replica took.
			rate(rec, "v1", answered, 100, func(int) float64 { return 1 })
			rate(rec, "v2", answered, 100, func(i int) float64 { return float64(i % 2) })
			st := storedRatings{unscored: c.unscored}
			for i := range 40 {
				for _, v := range []string{"v1", "v2"} {
					st.fs = append(st.fs, sluice.Feedback{RequestID: fmt.Sprintf("%s-%d", v, i), Model: "chat", Version: v, Category: "payments", Route: "split",
						AnsweredAt: answered, Score: float64(i % 2), At: e.clock.Now()})
				}
			}
			var logs bytes.Buffer
			c2 := rollout.New(rollout.Options{Control: e.ctl, Windows: rec, Warmer: &rvWarmer{}, Now: e.clock.Now, Feedback: st,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			e.clock.Add(sluice.DefaultABFeedbackWait)
			c2.Step(e.ctx)
			r := *e.ctl.Registry().Rollouts["chat"]
			rep := rollout.ABReportOf(r)
			if r.Phase != sluice.PhaseCompleted || rep == nil {
				t.Fatalf("at the wait's end: phase %s, report %v; want completed with its report", r.Phase, rep != nil)
			}
			found := false
			for _, m := range rep.Categories {
				if m.Metric == "quality" && m.Source == "feedback" && m.Category == "payments" {
					found = true
					if m.BaselineN != c.wantBaseline || m.CandidateN != c.wantCand {
						t.Errorf("quality (feedback) in payments on %d/%d ratings, want %d/%d", m.BaselineN, m.CandidateN, c.wantBaseline, c.wantCand)
					}
				}
			}
			if !found {
				t.Fatalf("report %q: no quality (feedback) row in payments: %+v", rep.Summary, rep.Categories)
			}
			// The leader says why it reads the windows, in words true also
			// once every replica is upgraded (the claims the older ones
			// took stay unscored): a trial's operator was told to upgrade
			// every replica after doing so.
			warned := strings.Contains(logs.String(), "A/B report counts the ratings this replica's windows hold")
			if warned != (c.unscored > 0) {
				t.Errorf("with %d unscored ratings the leader warned %v:\n%s", c.unscored, warned, logs.String())
			}
			if warned && (strings.Contains(logs.String(), "upgrade every replica") || !strings.Contains(logs.String(), "If a replica still runs an older sluice, upgrade it") ||
				!strings.Contains(logs.String(), fmt.Sprintf("unscored_ratings=%d", c.unscored))) {
				t.Errorf("the leader's warning:\n%s\nwant it to say to upgrade a replica if one still runs an older sluice, not every replica, with the unscored count", logs.String())
			}
		})
	}
}
