package observe

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// gateStore's appends wait for gate to close; rows are not kept.
type gateStore struct{ gate chan struct{} }

func (s gateStore) AppendRequests(ctx context.Context, _ []sluice.Observation) error {
	select {
	case <-s.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (gateStore) PruneRequests(context.Context, time.Time) (int64, error) { return 0, nil }

// TestRequestLog_BacklogMemoryGivenBack: a store that stops answering (a
// PostgreSQL failover, a locked SQLite file) lets the queue grow to what
// the traffic sends meanwhile, up to Buffer rows (65,536 by default, 256
// bytes each: 16 MB); once the backlog is written, the log gives that
// back and holds buffers for what its flushes need (a few batches), not
// for the largest backlog it ever had. It gives it back once no flush has
// needed it for a span (needSpan), not at the first flush that needs less:
// a backlog that comes and goes at saturation would have the queue
// allocated again and again (BenchmarkRequestLog_Enqueue, whose writer
// falls behind by a varying backlog, went from 2.5 to 110 bytes a row).
func TestRequestLog_BacklogMemoryGivenBack(t *testing.T) {
	const batch, backlog = 16, 20_000
	// run has the store stop answering while backlog rows come, answer
	// again, then takes 4 batches each written, step apart; it returns
	// for how many rows the log holds buffers once closed.
	run := func(t *testing.T, step time.Duration) int {
		s := gateStore{gate: make(chan struct{})}
		var clock atomic.Int64
		l := NewRequestLog(s, LogOptions{
			BatchSize: batch, FlushInterval: time.Hour, Buffer: backlog + batch,
			Now:    func() time.Time { return time.Unix(0, clock.Load()) },
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		o := sluice.Observation{RequestID: "req-1", Model: "m", Version: "v1", Status: 200}
		for range backlog {
			l.Enqueue(o)
		}
		close(s.gate) // the store is back
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			clock.Add(int64(step))
			for range batch {
				l.Enqueue(o)
			}
			if err := l.Sync(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := l.written.Load(); got != backlog+4*batch {
			t.Errorf("%d rows written, want %d", got, backlog+4*batch)
		}
		return cap(l.pending) + cap(l.spare)
	}
	// A span apart, the backlog's buffer is given back: each of the two
	// is kept only while a flush took a quarter of it in the last span or
	// two, or within 4 batches: 2 × 4 batches at most.
	if held := run(t, needSpan); held > 2*4*batch {
		t.Errorf("after a backlog of %d rows was written and traffic went on in batches of %d, %v apart, the log holds buffers for %d rows (%d KB), want at most %d",
			backlog, batch, needSpan, held, held*256/1000, 2*4*batch)
	}
	// Within a span it is kept: a backlog that comes and goes does not
	// have the queue allocated again each time.
	if held := run(t, 0); held < backlog {
		t.Errorf("within %v of a backlog of %d rows, the log holds buffers for %d rows: it gave back what the next backlog grows again", needSpan, backlog, held)
	}
}
