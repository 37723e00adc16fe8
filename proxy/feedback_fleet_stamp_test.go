package proxy_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_FleetFeedbackStampedWithTheRow: on a fleet, feedback on
// another replica's answer is read from the shared request log
// (FeedbackLog). The score must be stamped with the row's time, the
// answer's, as the ring's scores are (TestProxy_FeedbackStampedWithTheRequest):
// stamped at its arrival 30 s later, a rating sent through another replica
// after an A/B test reached its sample fell outside the report's span
// (RandomizedBetween up to FeedbackWait.Reached), and one of an answer
// from before the test fell inside it.
func TestProxy_FleetFeedbackStampedWithTheRow(t *testing.T) {
	store, err := postgres.Open(context.Background(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	answered := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	// Another replica's answer (another process's id prefix), in its
	// request log.
	const id = "req_0a1b2c3d4e5f_7"
	if err := store.AppendRequests(context.Background(), []sluice.Observation{{RequestID: id, At: answered, Model: "chat", Version: "v2",
		Route: "split", Category: "payments", Status: 200, Latency: 50 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := answered.Add(30 * time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: rec, Now: clock,
		FeedbackLog: store, FeedbackWait: 2 * time.Second})
	resp, body := post(t, url, "/v1/feedback", `{"request_id":"`+id+`","thumbs":"down"}`)
	if resp.StatusCode != 202 {
		t.Fatalf("feedback on another replica's answer: %d %s", resp.StatusCode, body)
	}
	span := rec.Between("chat", "v2", "payments", answered, answered.Add(time.Second)).QualityBySource["feedback"]
	later := rec.Between("chat", "v2", "payments", answered.Add(time.Second), time.Time{}).QualityBySource["feedback"]
	if !slices.Equal(span, []float64{0}) || len(later) != 0 {
		t.Errorf("feedback read from the fleet's log: in the answer's second %v, after it %v; want the score [0] at the row's time, none at its arrival 30 s later", span, later)
	}
}
