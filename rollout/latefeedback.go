package rollout

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// RatingsReader reads users' stored ratings (sluice.FeedbackStore).
type RatingsReader interface {
	Feedback(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.Feedback, error)
}

// LateRatings are users' ratings of an A/B test's sample (the split's
// answers the report compared) that arrived after its report was drawn:
// users rate late (a thumbs-down the next morning), and the report, drawn
// once, never counts them. They are shown beside it, never in it: the
// report stays as drawn, as Kayenta's and Argo's analysis results do.
//
// No verdict is drawn on them, on purpose: the test's sample and horizon
// (ab_samples, ab_feedback_wait) were fixed before it ran, and a test
// redrawn on ratings as they keep arriving, looked at until it says
// something, is a peek whose false alarms alpha no longer bounds; and
// users who rate an answer the next morning chose to come back, a
// population apart from the one the report sampled. The counts and means
// say that ratings came and which way they lean; counting later ratings
// is the next test's, with a longer ab_feedback_wait.
type LateRatings struct {
	// After is when the report read its ratings (Report.ScoresRead):
	// these arrived after it.
	After time.Time `json:"after"`
	// Baseline and Candidate are each arm's.
	Baseline  LateArm `json:"baseline"`
	Candidate LateArm `json:"candidate"`
	// Categories are the same figures per request category (the rated
	// answer's), when the sample's ratings span two categories or more,
	// as the report compares each category beside all traffic: a late
	// wave of thumbs-down confined to one category barely moves the arm's
	// figures. Named as the report's rows name them (lateCategory: none,
	// other). In the order of their names; nil with one category.
	Categories []LateCategory `json:"categories,omitempty"`
}

// LateCategory is one request category's late ratings.
type LateCategory struct {
	Category  string  `json:"category"`
	Baseline  LateArm `json:"baseline"`
	Candidate LateArm `json:"candidate"`
}

// LateArm is one arm's late ratings.
type LateArm struct {
	// Version is the arm's.
	Version string `json:"version"`
	// Ratings counts the arm's late ratings, Up and Down those that were
	// a thumbs up (score 1) or down (score 0), and Mean is their mean
	// score, in [0, 1] as the report's quality (feedback) row shows it (0
	// with none).
	Ratings int     `json:"ratings"`
	Up      int     `json:"up"`
	Down    int     `json:"down"`
	Mean    float64 `json:"mean"`
	// Total and TotalMean are every rating now stored of the arm's
	// answers in the sample, the late ones with those the report had.
	Total     int     `json:"total"`
	TotalMean float64 `json:"total_mean"`
}

// LateFeedback reads from fs the ratings of r's A/B test sample that
// arrived after its report (ABReportOf) was drawn; nil when r has no
// report, or one stored before reports kept their span.
func LateFeedback(ctx context.Context, fs RatingsReader, r sluice.Rollout) (*LateRatings, error) {
	rep := ABReportOf(r)
	if rep == nil || rep.SampleUntil.IsZero() || rep.ScoresRead.IsZero() {
		return nil, nil
	}
	all, err := fs.Feedback(ctx, sluice.FeedbackQuery{Model: r.Spec.Model, Since: rep.SampleFrom, Until: rep.SampleUntil})
	if err != nil {
		return nil, fmt.Errorf("read users' ratings of %s's answers: %w", r.ID, err)
	}
	late := &LateRatings{After: rep.ScoresRead, Baseline: LateArm{Version: r.Spec.Baseline}, Candidate: LateArm{Version: r.Spec.Candidate}}
	cats := map[string]*LateCategory{}
	for _, f := range all {
		if !observe.SplitRouted(f.Route) || f.Version != r.Spec.Baseline && f.Version != r.Spec.Candidate {
			continue
		}
		name := lateCategory(f.Category, cats)
		c := cats[name]
		if c == nil {
			c = &LateCategory{Category: name, Baseline: LateArm{Version: r.Spec.Baseline}, Candidate: LateArm{Version: r.Spec.Candidate}}
			cats[name] = c
		}
		score, isLate := min(max(f.Score, 0), 1), f.At.After(rep.ScoresRead)
		if f.Version == r.Spec.Baseline {
			late.Baseline.add(score, isLate)
			c.Baseline.add(score, isLate)
		} else {
			late.Candidate.add(score, isLate)
			c.Candidate.add(score, isLate)
		}
	}
	late.Baseline.finish()
	late.Candidate.finish()
	if len(cats) > 1 {
		for _, name := range slices.Sorted(maps.Keys(cats)) {
			c := cats[name]
			c.Baseline.finish()
			c.Candidate.finish()
			late.Categories = append(late.Categories, *c)
		}
	}
	return late, nil
}

// lateCategory names the category of a rating whose answer's request sent
// raw as the report's rows name it (the recorder's windows'):
// observe.NoCategory for none, and observe.OtherCategory past the first
// observe.DefaultMaxCategories of seen (the ratings come in the order of
// their answers, as the recorder saw them), so that a client sending a
// new category with each request it rates cannot make a status, which the
// dashboard asks for every few seconds, list one per rating.
func lateCategory(raw string, seen map[string]*LateCategory) string {
	if raw == "" {
		return observe.NoCategory
	}
	if seen[raw] != nil || raw == observe.OtherCategory {
		return raw
	}
	n := len(seen)
	if seen[observe.OtherCategory] != nil {
		n--
	}
	if n >= observe.DefaultMaxCategories {
		return observe.OtherCategory
	}
	return raw
}

// add counts a rating of the arm's answers with score, in all ratings, and
// in the late ones when it arrived after the report.
func (a *LateArm) add(score float64, late bool) {
	a.Total++
	a.TotalMean += score
	if !late {
		return
	}
	a.Ratings++
	a.Mean += score
	switch score {
	case 1:
		a.Up++
	case 0:
		a.Down++
	}
}

// finish turns add's sums into means.
func (a *LateArm) finish() {
	if a.Ratings > 0 {
		a.Mean /= float64(a.Ratings)
	}
	if a.Total > 0 {
		a.TotalMean /= float64(a.Total)
	}
}
