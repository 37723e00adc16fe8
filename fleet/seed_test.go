package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres"
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

	x := time.Now().Add(-2 * time.Minute).Truncate(time.Microsecond) // within what the table holds whole (raiseCuts)
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

	// As server.planSeed and seedWindows do: the cut, the first read of
	// the flushes, then the request log's rows before the cut in force,
	// oldest first.
	me.win.Cut("chat", "v2", cut)
	mustPull(t, me)
	if at, _ := me.win.CutAt("chat", "v2"); !at.Equal(cut.Truncate(time.Microsecond)) {
		t.Fatalf("the first read moved the cut from %s to %s, though the table holds every flush since", cut, at)
	}
	since := x.Add(-time.Hour)
	logged, err := me.store.Requests(ctx, sluice.RequestQuery{Model: "chat", Version: "v2", Since: since, Until: cut, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(logged)
	score := func(*sluice.Observation) (float64, bool) { return 0.5, true }
	me.win.Seed("chat", "v2", since, logged, false, score)

	got := me.win.Window("chat", "v2", "", since)
	if got.Requests != int64(len(rows)) || len(got.Quality) != len(rows) {
		t.Errorf("the window holds %d requests and %d heuristic scores, want each of the %d once (%d read from the request log before the cut at %s)",
			got.Requests, len(got.Quality), len(rows), len(logged), cut.Format(time.RFC3339Nano))
	}
}

// TestWindows_LateFirstReadMovesCut: a replica that starts mid-rollout
// cuts its versions at Retention less SeedMargin before the start, reads
// the request log up to the cut and the flushes from it on. When the
// store stayed out of its reach for longer than SeedMargin after the
// start, the other replicas' prune (they prune every minute, and know
// nothing of this replica's seed) deleted the flushes of the requests
// just after the cut before its first read: those requests were in
// neither part. The first read that succeeds now moves the cut to where
// the table is still whole, and the seed reads the request log up to the
// cut in force (CutAt), so each request is counted once.
func TestWindows_LateFirstReadMovesCut(t *testing.T) {
	const retention, margin = 6 * time.Second, time.Second
	dsn := pgtest.Schema(t)
	link := pgtest.NewProxy(t, dsn)
	opt := fleet.Options{Retention: retention, SeedMargin: margin, Timeout: time.Second}
	other := newReplica(t, dsn, "other", opt)
	me := newReplica(t, link.DSN(dsn), "me", opt)
	ctx := t.Context()

	// me starts, as server.planSeed does, and its store goes out of reach.
	start := time.Now()
	planned := start.Add(-retention + margin)
	me.win.Cut("chat", "v2", planned)
	link.Cut()

	// The other replica served all along: a request before the cut (in
	// the request log alone once its flush is pruned), then one every
	// 200 ms for 4 s, each in the request log and flushed as it arrives.
	record := func(at time.Time, id string) {
		o := sluice.Observation{RequestID: id, At: at, Model: "chat", Version: "v2", Route: "split",
			Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40}
		other.rec.Record(&o)
		if err := other.store.AppendRequests(ctx, []sluice.Observation{o}); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, other)
	}
	record(planned.Add(-time.Second), "r-before")
	n := 1
	for time.Since(start) < 4*time.Second {
		record(time.Now(), fmt.Sprintf("r-%d", n))
		n++
		time.Sleep(200 * time.Millisecond)
	}
	if err := me.win.Pull(ctx); err == nil {
		t.Fatal("Pull with the store cut off: no error")
	}
	// 9 s in: the flushes of the first 3 s are older than the retention,
	// and the other replica prunes them.
	time.Sleep(time.Until(start.Add(9 * time.Second)))
	if pruned, err := other.store.PruneObservationBatches(ctx, retention); err != nil || pruned == 0 {
		t.Fatalf("the other replica's prune: %d rows, %v; want the oldest flushes gone", pruned, err)
	}
	if err := link.Restore(); err != nil {
		t.Fatal(err)
	}
	mustPull(t, me)
	select {
	case <-me.win.Pulled():
	default:
		t.Fatal("Pulled not closed after a read that succeeded")
	}
	cut, _ := me.win.CutAt("chat", "v2")
	if !cut.After(planned) {
		t.Errorf("the cut stayed at %s after a first read %v after the start; the flushes before %s were pruned", cut.Format(time.RFC3339Nano),
			time.Since(start).Round(time.Second), time.Now().Add(-retention).Format(time.RFC3339Nano))
	}
	since := planned.Add(-time.Hour)
	logged, err := me.store.Requests(ctx, sluice.RequestQuery{Model: "chat", Version: "v2", Since: since, Until: cut, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(logged)
	me.win.Seed("chat", "v2", since, logged, false, func(*sluice.Observation) (float64, bool) { return 0.5, true })
	if got := me.win.Window("chat", "v2", "", since).Requests; got != int64(n) {
		t.Errorf("the window holds %d requests, want each of the other replica's %d once (%d read from the request log up to the cut at %s)",
			got, n, len(logged), cut.Format(time.RFC3339Nano))
	}
}

// failingHalfWay is the store, whose first read of the flushes breaks off
// after the given number of rows (a connection reset), as a replica's
// first read can.
type failingHalfWay struct {
	fleet.Store
	after  int
	failed bool
}

func (f *failingHalfWay) ObservationBatches(ctx context.Context, since time.Time, except string, after map[string]int64, fn func(postgres.ObservationBatch) error) error {
	if f.failed {
		return f.Store.ObservationBatches(ctx, since, except, after, fn)
	}
	n := 0
	return f.Store.ObservationBatches(ctx, since, except, after, func(b postgres.ObservationBatch) error {
		if n == f.after {
			f.failed = true
			return errors.New("read tcp: connection reset by peer (injected half way through the first read)")
		}
		n++
		return fn(b)
	})
}

// TestWindows_FirstReadFailingHalfWayCountsOnce: a replica that starts
// mid-rollout reads the request log up to a cut and the flushes from it on;
// each read before the first that succeeds raises the cut to where the
// table is still whole (raiseCuts). A first read that broke off half way
// had taken the observations of its first flushes from its cut on, and
// the next raised the cut a poll interval further: the seed read those
// requests again from the request log, up to the new cut, and counted them
// twice. Each request counts once now.
func TestWindows_FirstReadFailingHalfWayCountsOnce(t *testing.T) {
	const retention, margin = 4 * time.Second, time.Second
	dsn := pgtest.Schema(t)
	opt := fleet.Options{Retention: retention, SeedMargin: margin, Timeout: 5 * time.Second}
	other := newReplica(t, dsn, "other", opt)
	ctx := t.Context()
	store := &failingHalfWay{Store: MustOpen(t, dsn), after: 15}
	meOpt := opt
	meOpt.Recorder, meOpt.Store, meOpt.Replica = observe.New(observe.Options{}), store, "me"
	me := fleet.New(meOpt)

	// The other replica's 30 requests, 100 ms apart, each in the request
	// log and in a flush of its own.
	start := time.Now()
	const n = 30
	for i := range n {
		o := sluice.Observation{RequestID: fmt.Sprintf("r-%d", i), At: start.Add(time.Duration(i) * 100 * time.Millisecond), Model: "chat", Version: "v2",
			Route: "split", Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40}
		other.rec.Record(&o)
		if err := other.store.AppendRequests(ctx, []sluice.Observation{o}); err != nil {
			t.Fatal(err)
		}
		mustFlush(t, other)
	}
	// As server.planSeed does: a cut, then the first read of the
	// flushes, which raises it to 3 s (retention less margin) before
	// its time: 250 ms after the first request.
	me.Cut("chat", "v2", start.Add(-time.Hour))
	time.Sleep(time.Until(start.Add(3250 * time.Millisecond)))
	if err := me.Pull(ctx); err == nil || !store.failed {
		t.Fatalf("the first read: %v (failed half way: %v), want the injected failure", err, store.failed)
	}
	// A poll interval later, the next read, which succeeds.
	time.Sleep(time.Second)
	if err := me.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	cut, _ := me.CutAt("chat", "v2")
	since := start.Add(-time.Hour)
	logged, err := other.store.Requests(ctx, sluice.RequestQuery{Model: "chat", Version: "v2", Since: since, Until: cut, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(logged)
	me.Seed("chat", "v2", since, logged, false, func(*sluice.Observation) (float64, bool) { return 0.5, true })
	if got := me.Window("chat", "v2", "", since).Requests; got != n {
		t.Errorf("the window holds %d requests, want each of the other replica's %d once (%d read from the request log up to the cut at %v after the first)",
			got, n, len(logged), cut.Sub(start))
	}
}
