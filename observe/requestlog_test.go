package observe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// memStore is the request log part of a store, in memory. No real store can
// be made to fail on demand, hence this double.
type memStore struct {
	mu      sync.Mutex
	rows    []sluice.Observation
	batches []int
	fail    int           // fail this many appends from now
	block   chan struct{} // when set, appends wait for it to close (or ctx)
	prunes  []time.Time
	calls   int
}

func (s *memStore) AppendRequests(ctx context.Context, rows []sluice.Observation) error {
	s.mu.Lock()
	block := s.block
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail > 0 {
		s.fail--
		return errors.New("database is locked")
	}
	s.rows = append(s.rows, rows...)
	s.batches = append(s.batches, len(rows))
	return nil
}

func (s *memStore) PruneRequests(ctx context.Context, before time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prunes = append(s.prunes, before)
	return 0, nil
}

func (s *memStore) written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows)
}

// quiet returns LogOptions for tests: no log output, retries fast, and no
// flush by time unless asked.
func quiet() observe.LogOptions {
	return observe.LogOptions{
		FlushInterval: time.Hour,
		RetryBackoff:  time.Millisecond,
		MaxBackoff:    5 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// row returns the i-th test observation.
func row(i int) sluice.Observation {
	return sluice.Observation{RequestID: fmt.Sprint("req-", i), Model: "m", Version: "v1", Status: 200}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	tb.Fatalf("timed out waiting for %s", what)
}

// checkRows fails unless store holds rows 0..n-1, each once, in order.
func checkRows(tb testing.TB, s *memStore, n int) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rows) != n {
		tb.Fatalf("store has %d rows, want %d", len(s.rows), n)
	}
	for i, r := range s.rows {
		if r.RequestID != fmt.Sprint("req-", i) {
			tb.Fatalf("row %d is %s", i, r.RequestID)
		}
	}
}

func TestRequestLog_Enqueue(t *testing.T) {
	t.Run("Batches", func(t *testing.T) {
		s := &memStore{}
		opt := quiet()
		opt.BatchSize = 10
		l := observe.NewRequestLog(s, opt)
		for i := range 35 {
			l.Enqueue(row(i))
		}
		// The writer counts a batch out of Pending after the store call
		// returns, so wait for both.
		waitFor(t, "three batches", func() bool { return s.written() == 30 && l.Pending() <= 5 })
		if n := l.Pending(); n != 5 {
			t.Fatalf("Pending = %d, want 5 (a partial batch waits)", n)
		}
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		checkRows(t, s, 35)
		if fmt.Sprint(s.batches) != "[10 10 10 5]" {
			t.Fatalf("batches = %v, want [10 10 10 5]", s.batches)
		}
		if l.Pending() != 0 || l.Dropped() != 0 || l.Written() != 35 {
			t.Fatalf("Pending, Dropped, Written = %d, %d, %d", l.Pending(), l.Dropped(), l.Written())
		}
	})

	t.Run("FlushInterval", func(t *testing.T) {
		s := &memStore{}
		opt := quiet()
		opt.FlushInterval = 5 * time.Millisecond
		l := observe.NewRequestLog(s, opt)
		defer l.Close(t.Context())
		for i := range 3 {
			l.Enqueue(row(i))
		}
		waitFor(t, "the interval flush", func() bool { return s.written() == 3 })
	})

	t.Run("Retry", func(t *testing.T) {
		s := &memStore{fail: 3}
		opt := quiet()
		opt.BatchSize = 10
		l := observe.NewRequestLog(s, opt)
		for i := range 25 {
			l.Enqueue(row(i))
		}
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		checkRows(t, s, 25)
		if l.Dropped() != 0 || s.calls != 3+3 {
			t.Fatalf("Dropped = %d, calls = %d; want 0, 6", l.Dropped(), s.calls)
		}
	})

	t.Run("GiveUp", func(t *testing.T) {
		s := &memStore{fail: 3}
		opt := quiet()
		opt.BatchSize = 10
		opt.MaxRetries = 2
		l := observe.NewRequestLog(s, opt)
		for i := range 15 {
			l.Enqueue(row(i))
		}
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if l.Dropped() != 10 || s.written() != 5 {
			t.Fatalf("Dropped = %d, written = %d; want the first batch of 10 dropped after 3 attempts", l.Dropped(), s.written())
		}
	})

	t.Run("Full", func(t *testing.T) {
		s := &memStore{block: make(chan struct{})}
		opt := quiet()
		opt.BatchSize = 10
		opt.Buffer = 20
		l := observe.NewRequestLog(s, opt)
		r := observe.New(observe.Options{})
		r.Registry().MustRegister(l)
		for i := range 25 {
			l.Enqueue(row(i))
		}
		if l.Dropped() != 5 || l.Pending() != 20 {
			t.Fatalf("Dropped = %d, Pending = %d; want 5, 20", l.Dropped(), l.Pending())
		}
		text := scrape(t, r)
		for _, w := range []string{"sluice_request_log_dropped_total 5", "sluice_request_log_pending 20"} {
			if !strings.Contains(text, w) {
				t.Errorf("metrics lack %q:\n%s", w, text)
			}
		}
		close(s.block)
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		checkRows(t, s, 20)
		l.Enqueue(row(99))
		if l.Dropped() != 6 {
			t.Fatalf("Enqueue after Close: Dropped = %d, want 6", l.Dropped())
		}
	})
}

func TestRequestLog_Close(t *testing.T) {
	t.Run("Deadline", func(t *testing.T) {
		s := &memStore{block: make(chan struct{})}
		opt := quiet()
		opt.BatchSize = 10
		l := observe.NewRequestLog(s, opt)
		for i := range 15 {
			l.Enqueue(row(i))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		err := l.Close(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close = %v, want a deadline error", err)
		}
		if l.Dropped() != 15 {
			t.Fatalf("Dropped = %d, want 15", l.Dropped())
		}
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("second Close = %v", err)
		}
	})
}

func TestRequestLog_Prune(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	t.Run("OK", func(t *testing.T) {
		s := &memStore{}
		opt := quiet()
		opt.Now = func() time.Time { return now }
		opt.Retention = 24 * time.Hour
		l := observe.NewRequestLog(s, opt)
		if _, err := l.Prune(t.Context()); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		l.Close(t.Context())
		// Once at start, once by hand.
		if len(s.prunes) != 2 || !s.prunes[1].Equal(now.Add(-24*time.Hour)) {
			t.Fatalf("prunes = %v, want 2 at %v", s.prunes, now.Add(-24*time.Hour))
		}
	})
	t.Run("Default", func(t *testing.T) {
		s := &memStore{}
		opt := quiet()
		opt.Now = func() time.Time { return now }
		l := observe.NewRequestLog(s, opt)
		l.Close(t.Context())
		if len(s.prunes) != 1 || !s.prunes[0].Equal(now.Add(-7*24*time.Hour)) {
			t.Fatalf("prunes = %v, want 1 at 7 days before", s.prunes)
		}
	})
	t.Run("KeepForever", func(t *testing.T) {
		s := &memStore{}
		opt := quiet()
		opt.Retention = -1
		l := observe.NewRequestLog(s, opt)
		if _, err := l.Prune(t.Context()); err != nil {
			t.Fatalf("Prune: %v", err)
		}
		l.Close(t.Context())
		if len(s.prunes) != 0 {
			t.Fatalf("prunes = %v, want none", s.prunes)
		}
	})
}

// discardStore accepts and forgets rows.
type discardStore struct{}

func (discardStore) AppendRequests(context.Context, []sluice.Observation) error { return nil }
func (discardStore) PruneRequests(context.Context, time.Time) (int64, error)    { return 0, nil }

func BenchmarkRequestLog_Enqueue(b *testing.B) {
	opt := quiet()
	opt.FlushInterval = 0
	l := observe.NewRequestLog(discardStore{}, opt)
	o := row(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Enqueue(o)
		}
	})
	b.StopTimer()
	l.Close(context.Background())
}
