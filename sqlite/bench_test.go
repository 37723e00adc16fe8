package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func benchRows(n int, base time.Time) []sluice.Observation {
	rows := make([]sluice.Observation, n)
	for i := range rows {
		rows[i] = sluice.Observation{
			RequestID: fmt.Sprintf("req-%08d", i), At: base.Add(time.Duration(i) * time.Millisecond),
			Model: "chat", Version: []string{"v1.0.0", "v1.1.0"}[i%2], Route: "split", StickyHash: uint64(i) * 0x9E3779B97F4A7C15,
			Category: "support", Endpoint: "/v1/chat/completions", Stream: true, Status: 200,
			Latency: 800 * time.Millisecond, TTFT: 120 * time.Millisecond, InputTokens: 350, OutputTokens: 220,
			FinishReason: "stop", ResponseChars: 900,
		}
	}
	return rows
}

// BenchmarkStore_AppendRequests1000 measures one batch of 1000 request log
// rows, the observe flusher's unit of work, as the log grows. Each batch is
// later than the one before and its request ids are the gateway's
// (req_<process>_<base-36 counter>), as in production.
func BenchmarkStore_AppendRequests1000(b *testing.B) {
	s := MustOpen(b, filepath.Join(b.TempDir(), "sluice.db"))
	base := time.Now()
	rows := benchRows(1000, base)
	b.ReportAllocs()
	batch := 0
	cpu0 := cpuTime()
	for b.Loop() {
		for i := range rows {
			rows[i].At = base.Add(time.Duration(batch*1000+i) * time.Millisecond)
			rows[i].RequestID = "req_0123456789ab_" + strconv.FormatUint(uint64(batch*1000+i+1), 36)
		}
		batch++
		if err := s.AppendRequests(b.Context(), rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/row")
	// Process CPU time per row, which other work on the machine disturbs
	// less than wall time.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1000, "cpu-ns/row")
}

func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchLog returns a store holding n batches of 1000 request log rows as
// the gateway writes them, one millisecond apart.
func benchLog(b *testing.B, batches int) (sluice.Store, []sluice.Observation) {
	s := MustOpen(b, filepath.Join(b.TempDir(), "sluice.db"))
	base := time.Now().Add(-time.Duration(batches) * time.Second)
	rows := benchRows(1000, base)
	for batch := range batches {
		for i := range rows {
			rows[i].At = base.Add(time.Duration(batch*1000+i) * time.Millisecond)
			rows[i].RequestID = "req_0123456789ab_" + strconv.FormatUint(uint64(batch*1000+i+1), 36)
		}
		if err := s.AppendRequests(b.Context(), rows); err != nil {
			b.Fatal(err)
		}
	}
	return s, rows
}

// BenchmarkStore_RequestByID finds one request among 500,000: the
// question "which version served this request".
func BenchmarkStore_RequestByID(b *testing.B) {
	s, _ := benchLog(b, 500)
	n := 0
	for b.Loop() {
		n++
		id := "req_0123456789ab_" + strconv.FormatUint(uint64(n*7919%500_000+1), 36)
		got, err := s.Requests(b.Context(), sluice.RequestQuery{RequestID: id})
		if err != nil || len(got) != 1 {
			b.Fatalf("Requests(%s) = %d rows, %v", id, len(got), err)
		}
	}
}

// BenchmarkStore_CountRequests500k counts a model's requests per version
// over 500,000 rows (about 8 minutes at 1,000 requests a second).
func BenchmarkStore_CountRequests500k(b *testing.B) {
	s, _ := benchLog(b, 500)
	for b.Loop() {
		got, err := s.CountRequests(b.Context(), sluice.RequestQuery{Model: "chat"})
		if err != nil || len(got) != 2 || got[0].Count+got[1].Count != 500_000 {
			b.Fatalf("CountRequests = %+v, %v", got, err)
		}
	}
}

// BenchmarkStore_RecentRequests reads the newest 100 of 500,000 rows of one
// version.
func BenchmarkStore_RecentRequests(b *testing.B) {
	s, _ := benchLog(b, 500)
	for b.Loop() {
		got, err := s.Requests(b.Context(), sluice.RequestQuery{Model: "chat", Version: "v1.1.0", Limit: 100})
		if err != nil || len(got) != 100 {
			b.Fatalf("Requests = %d rows, %v", len(got), err)
		}
	}
}

// BenchmarkStore_PruneRequests deletes the older half of 500,000 rows, as
// the hourly prune deletes the hour that left the retention.
func BenchmarkStore_PruneRequests(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s, rows := benchLog(b, 500)
		cut := rows[len(rows)-1].At.Add(-249_999 * time.Millisecond) // 250 of the 500 batches
		b.StartTimer()
		n, err := s.PruneRequests(b.Context(), cut)
		if err != nil || n != 250_000 {
			b.Fatalf("PruneRequests = %d, %v", n, err)
		}
	}
}

// BenchmarkStore_RequestUsage1M sums a week's usage per client key, model
// and version over 1,000,000 rows of 20 keys (about 17 minutes at 1,000
// requests a second), the question `sluice usage` asks; CountRequests over
// the same rows for comparison.
func BenchmarkStore_RequestUsage1M(b *testing.B) {
	s := MustOpen(b, filepath.Join(b.TempDir(), "sluice.db"))
	base := time.Now().Add(-1000 * time.Second)
	rows := benchRows(1000, base)
	for batch := range 1000 {
		for i := range rows {
			rows[i].At = base.Add(time.Duration(batch*1000+i) * time.Millisecond)
			rows[i].RequestID = "req_0123456789ab_" + strconv.FormatUint(uint64(batch*1000+i+1), 36)
			rows[i].ClientKey = "team-" + strconv.Itoa((batch*1000+i)/3%20)
		}
		if err := s.AppendRequests(b.Context(), rows); err != nil {
			b.Fatal(err)
		}
	}
	q := sluice.RequestQuery{Since: base.Add(-7 * 24 * time.Hour)}
	b.Run("usage", func(b *testing.B) {
		for b.Loop() {
			got, err := s.RequestUsage(b.Context(), q)
			if err != nil || len(got) != 40 {
				b.Fatalf("RequestUsage = %d rows, %v", len(got), err)
			}
		}
	})
	b.Run("count", func(b *testing.B) {
		for b.Loop() {
			got, err := s.CountRequests(b.Context(), q)
			if err != nil || len(got) != 2 {
				b.Fatalf("CountRequests = %+v, %v", got, err)
			}
		}
	})
}

// BenchmarkStore_RequestsRareVersion reads every row of a rare version
// (a canary at 1%) from a log of 2,000 small segments (64 rows, a flush
// interval's worth at 256 requests/s), the version in one segment of
// ten: the read a restart mid-rollout makes of the candidate's window
// (server/seed.go).
func BenchmarkStore_RequestsRareVersion(b *testing.B) {
	benchRareVersion(b, 2000, 64, 8)
}

// BenchmarkStore_RequestsRareVersionFullSegments is RequestsRareVersion on
// full segments (512 rows, some 30 KB: a busy gateway's), whose data spans
// several overflow pages that SQLite steps through to reach the dict
// column stored after it (migration 0023).
func BenchmarkStore_RequestsRareVersionFullSegments(b *testing.B) {
	benchRareVersion(b, 400, 512, 64)
}

// benchRareVersion reads every row of a rare version from a log of
// segments segments of perSegment rows, the version in one segment of ten
// and there one row of every.
func benchRareVersion(b *testing.B, segments, perSegment, every int) {
	s := MustOpen(b, filepath.Join(b.TempDir(), "sluice.db"))
	base := time.Now().Add(-time.Hour)
	rows := benchRows(perSegment, base)
	for seg := range segments {
		for i := range rows {
			n := seg*perSegment + i
			rows[i].At = base.Add(time.Duration(n) * time.Millisecond)
			rows[i].RequestID = "req_0123456789ab_" + strconv.FormatUint(uint64(n+1), 36)
			rows[i].Version = "v1.0.0"
			if seg%10 == 0 && i%every == 0 {
				rows[i].Version = "v1.1.0-rc"
			}
		}
		if err := s.AppendRequests(b.Context(), rows); err != nil {
			b.Fatal(err)
		}
	}
	q := sluice.RequestQuery{Model: "chat", Version: "v1.1.0-rc", Since: base, Limit: 65_536}
	want := segments / 10 * perSegment / every
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		got, err := s.Requests(b.Context(), q)
		if err != nil || len(got) != want {
			b.Fatalf("Requests = %d rows, %v; want %d", len(got), err, want)
		}
	}
	// Process CPU time (the collector's included), which the other work
	// on a shared machine disturbs less than wall time.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkStore_ClaimFeedback is one user's rating as POST /v1/feedback
// stores it on a lone gateway: one INSERT in its own write transaction,
// on the feedback's path (not an inference request's).
func BenchmarkStore_ClaimFeedback(b *testing.B) {
	s := MustOpen(b, filepath.Join(b.TempDir(), "sluice.db"))
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := sluice.Feedback{RequestID: "req_0a1b2c3d4e5f_" + strconv.Itoa(i), Model: "chat", Version: "v2", Category: "billing",
			Route: "split", AnsweredAt: at, Score: 1, At: at.Add(time.Minute)}
		if ok, err := s.ClaimFeedback(ctx, f); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkStore_RequestsRareCategory reads the request log of 204,800
// rows (400 full segments) filtered by a category or a route that one
// segment of ten holds (a row of every 64 there), and by a category no row
// holds (a typo): the dashboard's and sluice requests' --category and
// --route. A segment whose dictionary lacks the string is passed over
// without its rows decoded, as for a model, version or key.
func BenchmarkStore_RequestsRareCategory(b *testing.B) {
	const segments, perSegment, every = 400, 512, 64
	s := MustOpen(b, filepath.Join(b.TempDir(), "sluice.db"))
	base := time.Now().Add(-time.Hour)
	rows := benchRows(perSegment, base)
	for seg := range segments {
		for i := range rows {
			n := seg*perSegment + i
			rows[i].At = base.Add(time.Duration(n) * time.Millisecond)
			rows[i].RequestID = "req_0123456789ab_" + strconv.FormatUint(uint64(n+1), 36)
			rows[i].Category, rows[i].Route = "support", "split"
			if seg%10 == 0 && i%every == 0 {
				rows[i].Category, rows[i].Route = "payments", "force"
			}
		}
		if err := s.AppendRequests(b.Context(), rows); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		q    sluice.RequestQuery
		want int
	}{
		{"category", sluice.RequestQuery{Model: "chat", Category: "payments"}, segments / 10 * perSegment / every},
		{"route", sluice.RequestQuery{Model: "chat", Route: "force"}, segments / 10 * perSegment / every},
		{"absent", sluice.RequestQuery{Model: "chat", Category: "paymnts"}, 0},
	} {
		c.q.Since, c.q.Limit = base, 65_536
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				got, err := s.Requests(b.Context(), c.q)
				if err != nil || len(got) != c.want {
					b.Fatalf("Requests = %d rows, %v; want %d", len(got), err, c.want)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
	// The API's look at an empty answer's category (RequestCategory): the
	// rare one is found in the newest segment holding it; a typo's answer
	// lists the categories, reading every segment of the model.
	for _, c := range []struct {
		name, category string
		found          bool
	}{{"category-found", "payments", true}, {"category-typo", "paymnts", false}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				found, others, err := s.RequestCategory(b.Context(), "chat", c.category)
				if err != nil || found != c.found || !c.found && len(others) != 2 {
					b.Fatalf("RequestCategory(%s) = %v, %q, %v", c.category, found, others, err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
