package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var feedbackTests = []test{
	{"ClaimAndReadBack", testFeedbackRoundTrip},
	{"Prune", testFeedbackPrune},
}

// testFeedbackRoundTrip: a rating is kept with its score and what it
// counts for, read back by its model and its answer's time, oldest answer
// first; a second claim of the same id records nothing and keeps the
// first score.
func testFeedbackRoundTrip(t *testing.T, s sluice.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	claims := []sluice.Feedback{
		{RequestID: "req_0a1b2c3d4e5f_9", Model: "chat", Version: "v2", Category: "billing", Route: "split", AnsweredAt: t0.Add(3 * time.Second), Score: 0, At: t0.Add(time.Minute)},
		{RequestID: "req_0a1b2c3d4e5f_7", Model: "chat", Version: "v1", Category: "", Route: "pin", AnsweredAt: t0.Add(time.Second), Score: 0.8, At: t0.Add(2 * time.Minute)},
		{RequestID: "req_0a1b2c3d4e5f_8", Model: "chat", Version: "v1", Route: "split", AnsweredAt: t0.Add(2 * time.Second), Score: 1, At: t0.Add(30 * time.Minute)},
		{RequestID: "req_0a1b2c3d4e5f_a", Model: "embed", Version: "e1", AnsweredAt: t0.Add(time.Second), Score: 1, At: t0.Add(time.Minute)},
	}
	for _, f := range claims {
		if ok, err := s.ClaimFeedback(ctx, f); !ok || err != nil {
			t.Fatalf("claim %s: %v, %v; want recorded", f.RequestID, ok, err)
		}
	}
	again := claims[0]
	again.Score, again.At = 1, t0.Add(time.Hour)
	if ok, err := s.ClaimFeedback(ctx, again); ok || err != nil {
		t.Fatalf("a second claim of %s: %v, %v; want not recorded", again.RequestID, ok, err)
	}
	got, err := s.Feedback(ctx, sluice.FeedbackQuery{Model: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	want := []sluice.Feedback{claims[1], claims[2], claims[0]}
	if len(got) != len(want) {
		t.Fatalf("read %d ratings of chat, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.RequestID != w.RequestID || g.Model != w.Model || g.Version != w.Version || g.Category != w.Category || g.Route != w.Route ||
			!g.AnsweredAt.Equal(w.AnsweredAt) || g.Score != w.Score || !g.At.Equal(w.At) {
			t.Errorf("rating %d: got %+v, want %+v", i, g, w)
		}
	}
	// The answers' span: from Since, before Until.
	got, err = s.Feedback(ctx, sluice.FeedbackQuery{Model: "chat", Since: t0.Add(2 * time.Second), Until: t0.Add(3 * time.Second)})
	if err != nil || len(got) != 1 || got[0].RequestID != "req_0a1b2c3d4e5f_8" {
		t.Errorf("ratings of answers from 2 s to before 3 s: %+v (%v), want req_0a1b2c3d4e5f_8", got, err)
	}
	// Those that arrived after a time (after a report was drawn).
	got, err = s.Feedback(ctx, sluice.FeedbackQuery{Model: "chat", RatedAfter: t0.Add(2 * time.Minute)})
	if err != nil || len(got) != 1 || got[0].RequestID != "req_0a1b2c3d4e5f_8" {
		t.Errorf("ratings that arrived after 2 min: %+v (%v), want req_0a1b2c3d4e5f_8", got, err)
	}
	if _, err := s.Feedback(ctx, sluice.FeedbackQuery{}); sluice.ErrorCode(err) != sluice.CodeInvalid {
		t.Errorf("a read naming no model: %v, want CodeInvalid", err)
	}
}

// testFeedbackPrune: ratings go with the request log's rows, by the time
// each arrived; a pruned id takes a rating again.
func testFeedbackPrune(t *testing.T, s sluice.Store) {
	ctx := context.Background()
	old := testRatingsPrune(t, func(f sluice.Feedback) error {
		if ok, err := s.ClaimFeedback(ctx, f); !ok || err != nil {
			return fmt.Errorf("claim %s: %v, %w", f.RequestID, ok, err)
		}
		return nil
	}, func() ([]sluice.Feedback, error) { return s.Feedback(ctx, sluice.FeedbackQuery{Model: "chat"}) }, s)
	if ok, err := s.ClaimFeedback(ctx, old); !ok || err != nil {
		t.Errorf("a pruned id claimed again: %v, %v; want recorded", ok, err)
	}
}

// testRatingsPrune stores two ratings of chat with add, one taken before
// the prune's time and one after, prunes the request log, checks read
// gives the later alone, and returns the pruned one.
func testRatingsPrune[T sluice.Rating](t *testing.T, add func(T) error, read func() ([]T, error), s sluice.Store) T {
	t.Helper()
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	old := T(sluice.Feedback{RequestID: "req_0a1b2c3d4e5f_1", Model: "chat", Version: "v1", Route: "split", AnsweredAt: t0, Score: 1, At: t0.Add(time.Minute)})
	recent := T(sluice.Feedback{RequestID: "req_0a1b2c3d4e5f_2", Model: "chat", Version: "v1", Route: "split", AnsweredAt: t0, Score: 0, At: t0.Add(time.Hour)})
	for _, r := range []T{old, recent} {
		if err := add(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PruneRequests(context.Background(), t0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := read()
	if err != nil || len(got) != 1 || sluice.Feedback(got[0]).RequestID != sluice.Feedback(recent).RequestID {
		t.Fatalf("after the prune: %+v (%v), want %s alone", got, err, sluice.Feedback(recent).RequestID)
	}
	return old
}
