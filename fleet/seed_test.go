package fleet_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestWindows_CutMeetsSeed: a replica that seeds the part of a stage
// before a cut from the request log, and takes the flushes' observations
// from the cut on, counts each request once, those that arrived within a
// microsecond of the cut too. The request log keeps microseconds (pgx
// truncates a time to them) and a flush keeps nanoseconds, and the cut
// given is not on a microsecond: a cut left at the nanosecond took the
// requests of its microsecond that arrived after it from both.
func TestWindows_CutMeetsSeed(t *testing.T) {
	dsn := pgtest.Schema(t)
	other := newReplica(t, dsn, "other", fleet.Options{})
	me := newReplica(t, dsn, "me", fleet.Options{})
	ctx := t.Context()

	x := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	cut := x.Add(500 * time.Nanosecond)
	var rows []sluice.Observation
	for i, d := range []time.Duration{-time.Minute, -1001, -1, 0, 1, 499, 500, 501, 999, 1000, 1001, 2000, time.Minute} {
		o := sluice.Observation{RequestID: fmt.Sprintf("r-%d", i), At: x.Add(d), Model: "chat", Version: "v2", Route: "split",
			Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40}
		rows = append(rows, o)
		other.rec.Record(&o)
		other.rec.RecordQualityFrom(observe.SourceHeuristic, "chat", "v2", "", o.At, 0.5)
	}
	if err := other.store.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	mustFlush(t, other)

	// As server.planSeed and seedRollout do: the cut, then the request
	// log's rows before it, oldest first, while the reads go on.
	me.win.Cut("chat", "v2", cut)
	since := x.Add(-time.Hour)
	logged, err := me.store.Requests(ctx, sluice.RequestQuery{Model: "chat", Version: "v2", Since: since, Until: cut, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(logged)
	score := func(*sluice.Observation) (float64, bool) { return 0.5, true }
	me.win.Seed("chat", "v2", since, logged, false, score)
	mustPull(t, me)

	got := me.win.Window("chat", "v2", "", since)
	if got.Requests != int64(len(rows)) || len(got.Quality) != len(rows) {
		t.Errorf("the window holds %d requests and %d heuristic scores, want each of the %d once (%d read from the request log before the cut at %s)",
			got.Requests, len(got.Quality), len(rows), len(logged), cut.Format(time.RFC3339Nano))
	}
}
