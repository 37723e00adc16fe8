package sluice

import (
	"context"
	"time"
)

// Feedback is one user's rating of one answer (POST /v1/feedback) as the
// store keeps it: each answer takes one, and the store's record of it is
// both the one-score rule (FeedbackStore.ClaimFeedback) and the score an
// A/B test's report reads back (FeedbackStore.Feedback), so that a rating
// outlives the gateway process that took it (a restart, a leader's death)
// as the test's own state does.
type Feedback struct {
	// RequestID is the X-Request-Id of the answer rated.
	RequestID string `json:"request_id"`
	// Model, Version and Category are the answer's: the score counts for
	// the version that answered, in the request's category.
	Model    string `json:"model"`
	Version  string `json:"version"`
	Category string `json:"category,omitempty"`
	// Route is how the answer's version was chosen (Observation.Route,
	// "split" for a later turn of a conversation the split began): an
	// analysis of the split's arms counts only the split's answers.
	Route string `json:"route,omitempty"`
	// AnsweredAt is when the answer was given (Observation.At): the score
	// counts in the span its answer was given in, however late it came.
	AnsweredAt time.Time `json:"answered_at"`
	// Score is in [0, 1]: thumbs up 1, down 0.
	Score float64 `json:"score"`
	// At is when the rating arrived. Ratings are pruned with the request
	// log, by this time.
	At time.Time `json:"at"`
}

// FeedbackQuery selects stored ratings (FeedbackStore.Feedback).
type FeedbackQuery struct {
	// Model is the model whose answers were rated; required.
	Model string
	// Since and Until bound the answers' times (Feedback.AnsweredAt):
	// from Since, before Until; a zero bound is open.
	Since, Until time.Time
	// RatedAfter, when set, keeps the ratings that arrived after it.
	RatedAfter time.Time
	// Limit caps the rows returned, the oldest answers first; 0 for all.
	Limit int
}

// FeedbackStore is the part of Store that keeps users' ratings.
type FeedbackStore interface {
	// ClaimFeedback records f, the one rating of the answer f.RequestID,
	// in one transaction, and reports whether this call recorded it:
	// false when a rating of that id was there already (another replica,
	// or this one, took it first), which keeps its own score. Of two
	// claims of one id at once, on any replicas, exactly one records it.
	// A zero f.At is the store's now.
	ClaimFeedback(ctx context.Context, f Feedback) (bool, error)
	// Feedback returns the ratings matching q, oldest answer first (then
	// in the order they arrived). Claims stored without a score (by a
	// binary from before scores were stored) are left out.
	Feedback(ctx context.Context, q FeedbackQuery) ([]Feedback, error)
	// UnscoredFeedback counts the claims that arrived at or after since
	// without a score: taken by a replica of a binary from before scores
	// were stored (PostgreSQL, before 0031), on a fleet being upgraded.
	// Their scores reached the windows alone, so a report reading
	// Feedback would leave them out. Always 0 on SQLite.
	UnscoredFeedback(ctx context.Context, since time.Time) (int64, error)
}
