package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// claim is a rating of request id taken at at.
func claim(id string, at time.Time) sluice.Feedback {
	return sluice.Feedback{RequestID: id, Model: "chat", Version: "v2", Route: "split", AnsweredAt: at.Add(-time.Second), Score: 1, At: at}
}

// TestStore_ClaimFeedback: an answer takes one feedback across the fleet.
// Of many claims of one id at once, on two stores (two replicas) sharing
// the schema, exactly one records it; a later claim on either finds it; a
// claim is pruned with the request log, by its own time.
func TestStore_ClaimFeedback(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, b := MustOpen(t, dsn), MustOpen(t, dsn)
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

	var won atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			ok, err := s.ClaimFeedback(ctx, claim("req_0a1b2c3d4e5f_7", at))
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if n := won.Load(); n != 1 {
		t.Fatalf("%d of 16 claims of one id at once recorded it, want 1", n)
	}
	if ok, err := a.ClaimFeedback(ctx, claim("req_0a1b2c3d4e5f_7", at.Add(time.Minute))); ok || err != nil {
		t.Errorf("a later claim of the same id: %v, %v; want false", ok, err)
	}
	if ok, err := b.ClaimFeedback(ctx, claim("req_0a1b2c3d4e5f_8", at.Add(time.Hour))); !ok || err != nil {
		t.Errorf("a claim of another id: %v, %v; want true", ok, err)
	}

	// Pruned by the request log's retention: the claim older than the
	// bound goes, the newer stays, and its id may be claimed again only
	// once it is gone.
	if _, err := a.PruneRequests(ctx, at.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.ClaimFeedback(ctx, claim("req_0a1b2c3d4e5f_8", at.Add(2*time.Hour))); ok || err != nil {
		t.Errorf("a claim kept by the prune, claimed again: %v, %v; want false", ok, err)
	}
	if ok, err := b.ClaimFeedback(ctx, claim("req_0a1b2c3d4e5f_7", at.Add(2*time.Hour))); !ok || err != nil {
		t.Errorf("a pruned claim, claimed again: %v, %v; want true", ok, err)
	}
}

// TestStore_UnscoredFeedback: a replica of a binary from before 0031
// claims a rating with its id and time alone. Feedback leaves it out (it
// has no score); UnscoredFeedback counts it from its time, so that an A/B
// report on a fleet mid-upgrade knows the store's ratings are not all.
func TestStore_UnscoredFeedback(t *testing.T) {
	dsn := pgtest.Schema(t)
	s := MustOpen(t, dsn)
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	if ok, err := s.ClaimFeedback(ctx, claim("req_0a1b2c3d4e5f_1", at)); !ok || err != nil {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	// The older binary's INSERT (postgres/feedback.go before 0031).
	pgtest.Exec(t, dsn, "INSERT INTO request_feedback (request_id, at) VALUES ('req_99aa88bb77cc_2', '2026-12-06T09:05:00Z')")
	for _, c := range []struct {
		since time.Time
		want  int64
	}{{at, 1}, {at.Add(5 * time.Minute), 1}, {at.Add(5*time.Minute + time.Microsecond), 0}} {
		if n, err := s.UnscoredFeedback(ctx, c.since); n != c.want || err != nil {
			t.Errorf("UnscoredFeedback since %s: %d (%v), want %d", c.since.Format(time.RFC3339Nano), n, err, c.want)
		}
	}
	if fs, err := s.Feedback(ctx, sluice.FeedbackQuery{Model: "chat"}); len(fs) != 1 || err != nil {
		t.Errorf("Feedback: %+v (%v), want the scored claim alone", fs, err)
	}
}
