package sqlite_test

import (
	"fmt"
	"path/filepath"
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
// later than the one before and its request ids are time-ordered, as in
// production; random request ids would make every batch dirty pages all
// over the request_id index and grow slower as the table does.
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
			rows[i].RequestID = fmt.Sprintf("%012x-%04x", batch*1000+i, i*7919%65536)
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
