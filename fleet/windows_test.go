package fleet_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/rollout"
)

var _ rollout.Windows = (*fleet.Windows)(nil)

// MustOpen opens the store at dsn and closes it when the test ends.
func MustOpen(tb testing.TB, dsn string) *postgres.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.OpenOptions(ctx, dsn, postgres.Options{ConnectTimeout: 2 * time.Second})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// replica is one gateway's part: its Recorder, its store and its Windows.
type replica struct {
	rec   *observe.Recorder
	win   *fleet.Windows
	store *postgres.Store
}

func newReplica(tb testing.TB, dsn, name string, opt fleet.Options) *replica {
	tb.Helper()
	rec := observe.New(observe.Options{})
	st := MustOpen(tb, dsn)
	opt.Recorder, opt.Store, opt.Replica = rec, st, name
	return &replica{rec: rec, win: fleet.New(opt), store: st}
}

// traffic records n observations of chat's version v in cat on r, arriving
// from at on, one a millisecond; every 4th fails.
func traffic(r *observe.Recorder, v, cat string, at time.Time, n int) {
	for i := range n {
		o := &sluice.Observation{At: at.Add(time.Duration(i) * time.Millisecond), Model: "chat", Version: v, Category: cat,
			Status: 200, Latency: time.Duration(10+i%50) * time.Millisecond, OutputTokens: i % 100, ResponseChars: int32(4 * (i % 100))}
		if i%4 == 0 {
			o.Status, o.ErrorClass = 502, "upstream_5xx"
		}
		// Every third request offers tools; every sixth answer calls one.
		o.ToolsOffered, o.ToolCall = i%3 == 0, i%6 == 0
		r.Record(o)
		r.RecordQualityFrom(observe.SourceHeuristic, "chat", v, cat, o.At, 0.5)
	}
}

func mustFlush(tb testing.TB, rs ...*replica) {
	tb.Helper()
	for _, r := range rs {
		if err := r.win.Flush(tb.Context()); err != nil {
			tb.Fatalf("Flush %s: %v", r.win.Replica(), err)
		}
	}
}

func mustPull(tb testing.TB, r *replica) {
	tb.Helper()
	if err := r.win.Pull(tb.Context()); err != nil {
		tb.Fatalf("Pull %s: %v", r.win.Replica(), err)
	}
}

// sum is what the three Recorders hold together.
func sum(rs []*replica, v, cat string, since time.Time) observe.Sample {
	var s observe.Sample
	for _, r := range rs {
		w := r.rec.Window("chat", v, cat, since)
		s.Requests += w.Requests
		s.Succeeded += w.Succeeded
		s.Errors += w.Errors
		s.ToolAnswers += w.ToolAnswers
		s.ToolCalls += w.ToolCalls
		s.Latency = append(s.Latency, w.Latency...)
		s.Quality = append(s.Quality, w.Quality...)
	}
	return s
}

func checkUnion(tb testing.TB, leader *replica, rs []*replica, since time.Time) {
	tb.Helper()
	for _, v := range []string{"v1", "v2"} {
		for _, cat := range []string{"", "chat", "code"} {
			got, want := leader.win.Window("chat", v, cat, since), sum(rs, v, cat, since)
			if got.Counts != want.Counts || len(got.Latency) != len(want.Latency) || len(got.Quality) != len(want.Quality) || got.Truncated {
				tb.Errorf("%s/%q since %v: union %+v (%d latencies, %d scores, truncated %v), want the sum %+v (%d, %d)",
					v, cat, since.Format(time.TimeOnly), got.Counts, len(got.Latency), len(got.Quality), got.Truncated, want.Counts, len(want.Latency), len(want.Quality))
			}
		}
	}
}

func TestWindows_Window(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		rs := []*replica{
			newReplica(t, dsn, "r1", fleet.Options{}),
			newReplica(t, dsn, "r2", fleet.Options{}),
			newReplica(t, dsn, "r3", fleet.Options{}),
		}
		t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
		// The candidate (v2) is served by r2 and r3 only; the baseline by
		// all three.
		for i, r := range rs {
			traffic(r.rec, "v1", "chat", t0, 300+i*10)
			traffic(r.rec, "v1", "code", t0.Add(time.Second), 100)
			if i > 0 {
				traffic(r.rec, "v2", "chat", t0.Add(2*time.Second), 50*i)
			}
		}
		mustFlush(t, rs...)
		mustPull(t, rs[0])
		for _, since := range []time.Time{{}, t0.Add(150 * time.Millisecond), t0.Add(2 * time.Second), t0.Add(time.Hour)} {
			checkUnion(t, rs[0], rs, since)
		}
		if got := rs[0].win.Window("chat", "v2", "", time.Time{}).Requests; got != 150 {
			t.Fatalf("the leader sees %d candidate requests, want the 150 of r2 and r3", got)
		}
		// The tool-call rate's counts travel with the batches: of r2's 50
		// and r3's 100 candidate requests, those with i%3 == 0 and no
		// error (i%4 != 0) are answers to tool requests, i%6 == 0 calls.
		wantAnswers, wantCalls := 0, 0
		for _, n := range []int{50, 100} {
			for i := range n {
				if i%3 == 0 && i%4 != 0 {
					wantAnswers++
					if i%6 == 0 {
						wantCalls++
					}
				}
			}
		}
		if got := rs[0].win.Window("chat", "v2", "", time.Time{}); got.ToolAnswers != int64(wantAnswers) || got.ToolCalls != int64(wantCalls) {
			t.Fatalf("the leader sees %d tool calls of %d tool answers from the other replicas, want %d of %d", got.ToolCalls, got.ToolAnswers, wantCalls, wantAnswers)
		}
		if got := rs[0].win.Categories("chat"); strings.Join(got, ",") != "chat,code" {
			t.Errorf("Categories = %q", got)
		}

		// Reading again adds nothing; new traffic arrives once.
		mustPull(t, rs[0])
		traffic(rs[1].rec, "v2", "code", t0.Add(3*time.Second), 40)
		traffic(rs[2].rec, "v1", "code", t0.Add(3*time.Second), 60)
		mustFlush(t, rs...)
		mustPull(t, rs[0])
		mustPull(t, rs[0])
		checkUnion(t, rs[0], rs, time.Time{})

		// A replica that starts later reads what the table holds.
		late := newReplica(t, dsn, "r4", fleet.Options{})
		mustPull(t, late)
		all := append([]*replica{late}, rs...)
		checkUnion(t, late, all, time.Time{})
	})
	t.Run("StoreDown", func(t *testing.T) {
		dsn := pgtest.Schema(t)
		proxy := pgtest.NewProxy(t, dsn)
		reader := newReplica(t, dsn, "reader", fleet.Options{})
		r := newReplica(t, proxy.DSN(dsn), "writer", fleet.Options{MaxPending: 3, Timeout: time.Second})
		reg := prometheus.NewRegistry()
		reg.MustRegister(r.win)
		t0 := time.Now().Add(-time.Minute)

		traffic(r.rec, "v1", "chat", t0, 10)
		mustFlush(t, r)
		proxy.Cut()
		// Five flushes while the store is away: the queue keeps the last
		// three.
		for i := range 5 {
			traffic(r.rec, "v1", "chat", t0.Add(time.Duration(i+1)*time.Second), 10)
			start := time.Now()
			if err := r.win.Flush(t.Context()); err == nil {
				t.Fatal("Flush with the store cut off: no error")
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("a failing flush took %v, want at most about the 1 s timeout", d)
			}
		}
		if got := metric(t, reg, "sluice_fleet_flush_errors_total", ""); got != 5 {
			t.Errorf("sluice_fleet_flush_errors_total = %v, want 5", got)
		}
		if got := metric(t, reg, "sluice_fleet_lost_observations_total", "overflow"); got != 20 {
			t.Errorf("lost observations (overflow) = %v, want 20 (the two oldest flushes of 10)", got)
		}
		if got := metric(t, reg, "sluice_fleet_flush_lag_seconds", ""); got <= 0 {
			t.Errorf("sluice_fleet_flush_lag_seconds = %v while flushes wait, want > 0", got)
		}
		if err := proxy.Restore(); err != nil {
			t.Fatal(err)
		}
		// The store is back: the pending flushes are written in order.
		deadline := time.Now().Add(10 * time.Second)
		for r.win.Flush(t.Context()) != nil {
			if time.Now().After(deadline) {
				t.Fatal("flushes still fail 10 s after the store returned")
			}
			time.Sleep(100 * time.Millisecond)
		}
		mustPull(t, reader)
		// 10 before the cut, then 5 flushes of 10: the two oldest of
		// those were dropped.
		if got := reader.win.Window("chat", "v1", "", time.Time{}).Requests; got != 10+3*10 {
			t.Errorf("the reader has %d requests, want 40 (10 and the three newest flushes of 10)", got)
		}
		if got := metric(t, reg, "sluice_fleet_flush_lag_seconds", ""); got != 0 {
			t.Errorf("sluice_fleet_flush_lag_seconds = %v once every flush is written, want 0", got)
		}
	})
}

// metric returns the value of the metric name (with the label value
// label, if not "") that reg gathers.
func metric(tb testing.TB, reg *prometheus.Registry, name, label string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	tb.Fatalf("no metric %s %s", name, label)
	return 0
}

// TestWindows_Run runs two replicas' flushers and readers while their
// Recorders take traffic from several goroutines, and checks that each
// sees the other's requests, all of them and once, within seconds.
func TestWindows_Run(t *testing.T) {
	dsn := pgtest.Schema(t)
	opt := fleet.Options{FlushInterval: 20 * time.Millisecond, PollInterval: 20 * time.Millisecond}
	a, b := newReplica(t, dsn, "a", opt), newReplica(t, dsn, "b", opt)
	ctx, cancel := context.WithCancel(t.Context())
	var running sync.WaitGroup
	running.Go(func() { a.win.Run(ctx) })
	running.Go(func() { b.win.Run(ctx) })
	var load sync.WaitGroup
	t0 := time.Now()
	for w := range 4 {
		load.Go(func() {
			r := []*replica{a, b}[w%2]
			for i := range 50 {
				traffic(r.rec, "v2", "chat", t0.Add(time.Duration(w*1000+i)*time.Millisecond), 20)
				time.Sleep(time.Millisecond)
			}
		})
	}
	load.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		na, nb := a.win.Window("chat", "v2", "", t0).Requests, b.win.Window("chat", "v2", "", t0).Requests
		if na == 4000 && nb == 4000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, a sees %d and b %d of the 4000 requests", na, nb)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	running.Wait()
}

func TestStore_PruneObservationBatches(t *testing.T) {
	dsn := pgtest.Schema(t)
	r := newReplica(t, dsn, "a", fleet.Options{})
	traffic(r.rec, "v1", "chat", time.Now(), 10)
	mustFlush(t, r)
	if n, err := r.store.PruneObservationBatches(t.Context(), time.Hour); err != nil || n != 0 {
		t.Fatalf("pruning rows older than an hour deleted %d (%v), want 0", n, err)
	}
	time.Sleep(10 * time.Millisecond)
	if n, err := r.store.PruneObservationBatches(t.Context(), time.Millisecond); err != nil || n != 1 {
		t.Fatalf("pruning rows older than 1 ms deleted %d (%v), want 1", n, err)
	}
}

// BenchmarkWindows_Flush measures a flush to PostgreSQL and a read of it
// by another replica at 1,000 requests a second on one replica: 20 series
// (2 versions, 10 categories) of 50 observations and 50 quality scores
// each. bytes/flush is the encoded size written.
func BenchmarkWindows_Flush(b *testing.B) {
	dsn := pgtest.Schema(b)
	w := newReplica(b, dsn, "w", fleet.Options{})
	reg := prometheus.NewRegistry()
	reg.MustRegister(w.win)
	at := time.Now()
	var flushes int
	b.Run("Flush", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			for s := range 20 {
				traffic(w.rec, []string{"v1", "v2"}[s%2], strings.Repeat("c", 1+s/2), at, 50)
			}
			b.StartTimer()
			if err := w.win.Flush(b.Context()); err != nil {
				b.Fatal(err)
			}
			flushes++
		}
		b.ReportMetric(metric(b, reg, "sluice_fleet_flushed_bytes_total", "")/float64(flushes), "bytes/flush")
	})
	b.Run("Pull", func(b *testing.B) {
		// In the steady state a read finds one new flush of each other
		// replica and skips, in the server, the 30 s of flushes it read
		// before (see overlap): keep 30 in the table.
		dsn := pgtest.Schema(b)
		w, r := newReplica(b, dsn, "w", fleet.Options{}), newReplica(b, dsn, "r", fleet.Options{})
		for range 30 {
			for s := range 20 {
				traffic(w.rec, []string{"v1", "v2"}[s%2], strings.Repeat("c", 1+s/2), at, 50)
			}
			if err := w.win.Flush(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.win.Pull(b.Context()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			for s := range 20 {
				traffic(w.rec, []string{"v1", "v2"}[s%2], strings.Repeat("c", 1+s/2), at, 50)
			}
			if err := w.win.Flush(b.Context()); err != nil {
				b.Fatal(err)
			}
			pgtest.Exec(b, dsn, "DELETE FROM observation_batches WHERE seq <= (SELECT MAX(seq) - 30 FROM observation_batches)")
			b.StartTimer()
			if err := r.win.Pull(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestWindows_Randomized: the leader's analysis leaves out another
// replica's requests routed to the candidate on purpose (a QA suite
// pinned to it, a rule), as it does its own: the observations say how
// they were routed across the fleet.
func TestWindows_Randomized(t *testing.T) {
	dsn := pgtest.Schema(t)
	leader, other := newReplica(t, dsn, "r1", fleet.Options{}), newReplica(t, dsn, "r2", fleet.Options{})
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i, how := range []string{"split", "pin", "split", "rule", "split", "label"} {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		other.rec.Record(&sluice.Observation{At: at, Model: "chat", Version: "v2", Route: how, Status: 200, Refusal: how != "split", Latency: 10 * time.Millisecond})
		other.rec.RecordQualityRouted(observe.SourceHeuristic, how, "chat", "v2", "", at, 1)
	}
	leader.rec.Record(&sluice.Observation{At: t0, Model: "chat", Version: "v2", Route: "force", Status: 200, Refusal: true})
	mustFlush(t, leader, other)
	mustPull(t, leader)
	s := leader.win.Randomized("chat", "v2", "", time.Time{})
	if s.Requests != 3 || s.Refusals != 0 || s.NotRandomized != 4 || len(s.Quality) != 3 {
		t.Errorf("the leader judges %d requests (%d refusals, %d scores) and leaves out %d; want the split's 3 (0 refusals, 3 scores), leaving out 4", s.Requests, s.Refusals, len(s.Quality), s.NotRandomized)
	}
	if all := leader.win.Window("chat", "v2", "", time.Time{}); all.Requests != 7 {
		t.Errorf("Window: %d requests, want all 7", all.Requests)
	}
}

// TestWindows_RandomizedSplitConversation: a later turn of a Responses
// conversation the split began (route previous_response,
// SplitConversation) that another replica served is judged with the
// split's requests by the leader, its quality score too; a turn of a
// conversation begun with a pin is left out. The flushed observation
// carries the decision its replica made: an older replica's says a
// continued response is not the split's, as it said before.
func TestWindows_RandomizedSplitConversation(t *testing.T) {
	dsn := pgtest.Schema(t)
	leader, other := newReplica(t, dsn, "r1", fleet.Options{}), newReplica(t, dsn, "r2", fleet.Options{})
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i, split := range []bool{true, false, true} {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		other.rec.Record(&sluice.Observation{At: at, Model: "chat", Version: "v2", Route: "previous_response", SplitConversation: split, Status: 200, Latency: 10 * time.Millisecond})
		how := "previous_response"
		if split {
			how = "split" // as the proxy records a split conversation's score
		}
		other.rec.RecordQualityRouted(observe.SourceHeuristic, how, "chat", "v2", "", at, 1)
	}
	mustFlush(t, leader, other)
	mustPull(t, leader)
	s := leader.win.Randomized("chat", "v2", "", time.Time{})
	if s.Requests != 2 || s.NotRandomized != 1 || len(s.Quality) != 2 {
		t.Errorf("the leader judges %d requests (%d scores) and leaves out %d; want the split conversation's 2 (2 scores), leaving out the pinned one's 1", s.Requests, len(s.Quality), s.NotRandomized)
	}
}
