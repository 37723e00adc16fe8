package sluice

import (
	"context"
	"time"
)

// JudgeGrade is an LLM judge's grade of one answer (the "judge" quality
// source) as the store keeps it. A grade reached the windows of the
// replica whose judge took it, and its flushes, alone: a restart during
// an A/B test's wait for late scores, or a change of leader, lost every
// grade taken before, where users' ratings (Feedback) survive. Stored, the
// report reads its sample's grades back as it reads its ratings.
type JudgeGrade struct {
	// RequestID is the X-Request-Id of the answer graded.
	RequestID string `json:"request_id"`
	// Model, Version and Category are the answer's: the grade counts for
	// the version that answered, in the request's category.
	Model    string `json:"model"`
	Version  string `json:"version"`
	Category string `json:"category,omitempty"`
	// Route is how the answer's version was chosen (Observation.Route):
	// an analysis of the split's arms counts only the split's answers.
	Route string `json:"route,omitempty"`
	// AnsweredAt is when the answer was given (Observation.At): the grade
	// counts in the span its answer was given in.
	AnsweredAt time.Time `json:"answered_at"`
	// Score is in [0, 1]: the judge's 0-10 grade over 10.
	Score float64 `json:"score"`
	// At is when the grade was taken. Grades are pruned with the request
	// log, by this time.
	At time.Time `json:"at"`
}

// Rating is a stored score of one answer: a user's rating or the LLM
// judge's grade. The two have one shape (a conversion turns one into the
// other) and are stored alike, so the stores keep them with one code.
type Rating interface {
	Feedback | JudgeGrade
}

// GradeStore is the part of Store that keeps the LLM judge's grades.
type GradeStore interface {
	// AddJudgeGrade records g in one transaction. A grade of the same
	// answer (request id and version: a mirrored request's candidate is
	// graded apart from its live answer) already stored stays, and
	// this one is dropped without an error: a write sent again must not
	// count a grade twice. A zero g.At is the store's now.
	AddJudgeGrade(ctx context.Context, g JudgeGrade) error
	// JudgeGrades returns the grades matching q, oldest answer first
	// (then in the order they were taken): q selects as it selects users'
	// ratings, RatedAfter keeping the grades taken after it.
	JudgeGrades(ctx context.Context, q FeedbackQuery) ([]JudgeGrade, error)
}
