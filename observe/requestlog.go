package observe

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// RequestStore is the part of sluice.Store a RequestLog writes to.
type RequestStore interface {
	// AppendRequests adds rows in one transaction.
	AppendRequests(ctx context.Context, rows []sluice.Observation) error
	// PruneRequests deletes rows older than before.
	PruneRequests(ctx context.Context, before time.Time) (int64, error)
}

var _ RequestStore = sluice.Store(nil)

// Defaults of LogOptions.
const (
	DefaultBatchSize     = 512
	DefaultFlushInterval = 250 * time.Millisecond
	DefaultBuffer        = 65536
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultPruneInterval = time.Hour
	DefaultMaxRetries    = 10
	DefaultRetryBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff    = 10 * time.Second
	DefaultStoreTimeout  = 30 * time.Second
)

// needSpan is how long a buffer of the queue that a backlog grew is kept
// unused (fewer than a quarter of its rows taken by any flush) before it
// is given back: between one and two spans.
const needSpan = 10 * time.Second

// LogOptions configures a RequestLog. The zero value is ready to use: each
// zero field takes the default its comment names.
type LogOptions struct {
	// BatchSize is the most rows written in one AppendRequests; a batch is
	// written as soon as this many rows wait. Zero means 512.
	BatchSize int
	// FlushInterval is the longest a row waits for a batch to fill. Zero
	// means 250 ms.
	FlushInterval time.Duration
	// Buffer is the most rows held in memory, waiting or being written;
	// Enqueue drops rows beyond it. Zero means 65536. An Observation takes
	// about 200 bytes plus its strings; the buffer grows only as needed.
	Buffer int
	// Retention is how long rows are kept: every PruneInterval (and once at
	// start) rows older than Now minus Retention are deleted. Zero means 7
	// days; a negative value keeps rows forever.
	Retention time.Duration
	// PruneInterval is the time between prunes. Zero means an hour.
	PruneInterval time.Duration
	// MaxRetries is how many times a failed batch is retried, waiting
	// RetryBackoff, then twice as long each time up to MaxBackoff, before it
	// is dropped. Zero means 10 (about a minute with the default waits); a
	// negative value retries forever, in which case a store that never
	// recovers stops the log and Enqueue drops once Buffer is full.
	MaxRetries int
	// RetryBackoff is the first wait before a retry. Zero means 100 ms.
	RetryBackoff time.Duration
	// MaxBackoff caps the wait between retries. Zero means 10 s.
	MaxBackoff time.Duration
	// Timeout bounds each store call. Zero means 30 s.
	Timeout time.Duration
	// Now is the clock the retention cutoff is computed from, and the
	// span after which a backlog's buffer is given back. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives failed writes and prunes. Nil means slog.Default().
	Logger *slog.Logger
}

// RequestLog writes observations to a store in batches, off the request
// path. Enqueue never blocks on the store; one goroutine writes, retries
// and prunes. A RequestLog is a prometheus.Collector exporting
// sluice_request_log_dropped_total, sluice_request_log_pending,
// sluice_request_log_written_total and sluice_request_log_append_errors_total;
// register it on Recorder.Registry to serve them.
type RequestLog struct {
	store RequestStore
	opt   LogOptions

	mu      sync.Mutex
	pending []sluice.Observation // waiting for the writer
	queued  int                  // pending plus those the writer holds
	closed  bool

	spare []sluice.Observation // the writer's other buffer; writer only
	// need is the most rows a flush took since needSince, needPrev in
	// the needSpan before: a buffer 4 times larger is given back. Writer
	// only.
	need, needPrev int
	needSince      time.Time

	dropped  atomic.Int64
	written  atomic.Int64
	failures atomic.Int64

	// accepted counts the rows Enqueue took (under mu); settled those
	// the writer has written or dropped since, in the same order; settle
	// is closed, and replaced, each time settled grows (under mu): Sync
	// waits on them.
	accepted int64
	settled  int64
	settle   chan struct{}
	syncs    chan struct{} // a Sync waits: write what is held now

	kick chan struct{} // a batch is full
	stop chan struct{} // closed by Close: drain and exit
	done chan struct{} // closed by the writer on exit
	// ctx is cancelled when Close gives up, aborting store calls and
	// retries.
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once

	descDropped, descPending, descWritten, descFailures *prometheus.Desc
}

// AppendErrors returns how many writes of a batch of rows failed (the
// count sluice_request_log_append_errors_total serves).
func (l *RequestLog) AppendErrors() int64 { return l.failures.Load() }

// NewRequestLog returns a RequestLog writing to store and starts its writer.
// Call Close to flush and stop it.
func NewRequestLog(store RequestStore, opt LogOptions) *RequestLog {
	if opt.BatchSize <= 0 {
		opt.BatchSize = DefaultBatchSize
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = DefaultFlushInterval
	}
	if opt.Buffer <= 0 {
		opt.Buffer = DefaultBuffer
	}
	if opt.Retention == 0 {
		opt.Retention = DefaultRetention
	}
	if opt.PruneInterval <= 0 {
		opt.PruneInterval = DefaultPruneInterval
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = DefaultMaxRetries
	}
	if opt.RetryBackoff <= 0 {
		opt.RetryBackoff = DefaultRetryBackoff
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = DefaultMaxBackoff
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultStoreTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &RequestLog{
		store:  store,
		opt:    opt,
		kick:   make(chan struct{}, 1),
		syncs:  make(chan struct{}, 1),
		settle: make(chan struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		ctx:    ctx,
		cancel: cancel,
		descDropped: prometheus.NewDesc("sluice_request_log_dropped_total",
			"Request log rows lost: the buffer was full, the log was closed, or the store kept failing.", nil, nil),
		descPending: prometheus.NewDesc("sluice_request_log_pending",
			"Request log rows waiting to be written.", nil, nil),
		descWritten: prometheus.NewDesc("sluice_request_log_written_total",
			"Request log rows written to the store: one per client request, and one more for each failed attempt retried on stable.", nil, nil),
		descFailures: prometheus.NewDesc("sluice_request_log_append_errors_total",
			"Failed attempts to write a batch of request log rows.", nil, nil),
	}
	go l.run()
	return l
}

// Enqueue queues o for writing. It never blocks on the store: when Buffer
// rows are already held, or the log is closed, o is dropped and counted.
func (l *RequestLog) Enqueue(o sluice.Observation) {
	l.mu.Lock()
	if l.closed || l.queued >= l.opt.Buffer {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	l.pending = append(l.pending, o)
	l.queued++
	l.accepted++
	full := len(l.pending) == l.opt.BatchSize
	l.mu.Unlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Sync returns once every row Enqueue took before the call is written,
// or dropped after its retries, having the writer write the rows it
// holds at once rather than at its next flush. It returns ctx's error if
// ctx ends first (the store is down: the writer is retrying).
func (l *RequestLog) Sync(ctx context.Context) error {
	l.mu.Lock()
	target := l.accepted
	l.mu.Unlock()
	select {
	case l.syncs <- struct{}{}:
	default: // one is asked for already
	}
	for {
		l.mu.Lock()
		done, ch := l.settled >= target, l.settle
		l.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-l.done:
			// Closed: what it held is written or dropped now.
			return nil
		case <-ctx.Done():
			return fmt.Errorf("the request log has not written this replica's last rows: %w", ctx.Err())
		}
	}
}

// Pending returns how many rows are held, waiting or being written.
func (l *RequestLog) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queued
}

// Dropped returns how many rows have been lost since the log started.
func (l *RequestLog) Dropped() int64 { return l.dropped.Load() }

// Written returns how many rows have been written since the log started.
func (l *RequestLog) Written() int64 { return l.written.Load() }

// Close stops accepting rows, writes those held and stops the writer. If ctx
// ends first, the rows still held are dropped (and counted) and Close returns
// an error wrapping ctx's. Calling Close again waits for the writer and
// returns nil.
func (l *RequestLog) Close(ctx context.Context) error {
	first := false
	l.once.Do(func() {
		first = true
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		close(l.stop)
	})
	if !first {
		<-l.done
		return nil
	}
	select {
	case <-l.done:
		l.cancel()
		return nil
	case <-ctx.Done():
		n := l.Pending()
		l.cancel()
		<-l.done
		return fmt.Errorf("close request log: %d rows not written: %w", n, ctx.Err())
	}
}

// Prune deletes the rows older than Now minus Retention and returns how many
// it deleted; it does nothing when Retention is negative. The writer calls it
// every PruneInterval; it is exported for tests and manual use.
func (l *RequestLog) Prune(ctx context.Context) (int64, error) {
	if l.opt.Retention < 0 {
		return 0, nil
	}
	before := l.opt.Now().Add(-l.opt.Retention)
	n, err := l.store.PruneRequests(ctx, before)
	if err != nil {
		return n, fmt.Errorf("prune request log before %s: %w", before.Format(time.RFC3339), err)
	}
	return n, nil
}

// run is the writer.
func (l *RequestLog) run() {
	defer close(l.done)
	flush := time.NewTicker(l.opt.FlushInterval)
	defer flush.Stop()
	var prune <-chan time.Time
	if l.opt.Retention > 0 {
		l.prune()
		t := time.NewTicker(l.opt.PruneInterval)
		defer t.Stop()
		prune = t.C
	}
	for {
		select {
		case <-l.kick:
			l.flush(false)
		case <-l.syncs:
			l.flush(true)
		case <-flush.C:
			l.flush(true)
		case <-prune:
			l.prune()
		case <-l.stop:
			l.flush(true)
			return
		}
	}
}

// prune runs Prune with a timeout and logs the outcome.
func (l *RequestLog) prune() {
	ctx, cancel := context.WithTimeout(l.ctx, l.opt.Timeout)
	defer cancel()
	n, err := l.Prune(ctx)
	if err != nil {
		l.opt.Logger.Warn("request log prune failed; will try again", "err", err, "in", l.opt.PruneInterval)
		return
	}
	if n > 0 {
		l.opt.Logger.Info("request log pruned", "rows", n, "retention", l.opt.Retention)
	}
}

// flush writes what is pending in batches, looping while a full batch
// waits. With partial it also writes a last batch smaller than BatchSize
// (on the flush interval and at Close); without, such rows wait for more.
func (l *RequestLog) flush(partial bool) {
	for {
		l.mu.Lock()
		rows := l.pending
		n := len(rows)
		if !partial {
			n -= n % l.opt.BatchSize
		}
		if n == 0 {
			l.mu.Unlock()
			return
		}
		// Fewer than BatchSize rows are left behind, so this copy under
		// the lock is short.
		l.pending = append(l.spare[:0], rows[n:]...)
		l.mu.Unlock()

		for start := 0; start < n; start += l.opt.BatchSize {
			batch := rows[start:min(start+l.opt.BatchSize, n)]
			l.write(batch)
			l.mu.Lock()
			l.queued -= len(batch)
			l.settled += int64(len(batch))
			close(l.settle)
			l.settle = make(chan struct{})
			l.mu.Unlock()
		}
		clear(rows) // release the strings
		l.need = max(l.need, len(rows))
		if now := l.opt.Now(); now.Sub(l.needSince) >= needSpan {
			l.needPrev, l.need, l.needSince = l.need, 0, now
		}
		if cap(rows) > 4*max(l.need, l.needPrev, l.opt.BatchSize) {
			// Grown by a backlog (the store slow or down: up to Buffer
			// rows, 16 MB at the defaults) that is written, and not
			// needed for a span since: given back, not held for ever.
			// A buffer a quarter of which a flush took in the last span
			// or two, or within 4 batches, is kept, so traffic whose
			// backlog comes and goes reuses the two and allocates nothing.
			rows = nil
		}
		l.spare = rows[:0]

		l.mu.Lock()
		more := len(l.pending) >= l.opt.BatchSize
		l.mu.Unlock()
		if !more {
			return
		}
	}
}

// write appends a batch, retrying with backoff; a batch that still fails is
// dropped and counted.
func (l *RequestLog) write(batch []sluice.Observation) {
	wait := l.opt.RetryBackoff
	for attempt := 0; ; attempt++ {
		if l.ctx.Err() != nil {
			l.dropped.Add(int64(len(batch)))
			return
		}
		ctx, cancel := context.WithTimeout(l.ctx, l.opt.Timeout)
		err := l.store.AppendRequests(ctx, batch)
		cancel()
		if err == nil {
			l.written.Add(int64(len(batch)))
			return
		}
		l.failures.Add(1)
		if l.opt.MaxRetries >= 0 && attempt >= l.opt.MaxRetries {
			l.dropped.Add(int64(len(batch)))
			l.opt.Logger.Error("request log batch dropped after retries",
				"rows", len(batch), "attempts", attempt+1, "err", err)
			return
		}
		l.opt.Logger.Warn("request log write failed; retrying",
			"rows", len(batch), "attempt", attempt+1, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
		}
		wait = min(2*wait, l.opt.MaxBackoff)
	}
}

// Describe implements prometheus.Collector.
func (l *RequestLog) Describe(ch chan<- *prometheus.Desc) {
	ch <- l.descDropped
	ch <- l.descPending
	ch <- l.descWritten
	ch <- l.descFailures
}

// Collect implements prometheus.Collector.
func (l *RequestLog) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(l.descDropped, prometheus.CounterValue, float64(l.Dropped()))
	ch <- prometheus.MustNewConstMetric(l.descPending, prometheus.GaugeValue, float64(l.Pending()))
	ch <- prometheus.MustNewConstMetric(l.descWritten, prometheus.CounterValue, float64(l.Written()))
	ch <- prometheus.MustNewConstMetric(l.descFailures, prometheus.CounterValue, float64(l.failures.Load()))
}
