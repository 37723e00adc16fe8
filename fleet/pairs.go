package fleet

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
)

// PairStore is where the replicas keep their shadow pairs: the PostgreSQL
// store.
type PairStore interface {
	PutShadowPairs(ctx context.Context, pairs []sluice.ShadowPair, keep int) error
	ShadowPairs(ctx context.Context, q sluice.ShadowPairQuery) ([]sluice.ShadowPair, bool, error)
}

var _ PairStore = (*postgres.Store)(nil)

// pairBatch is the most pairs one statement writes (up to about 10 KB each).
const pairBatch = 256

// PairsOptions configures Pairs. Store and Replica are required; every
// other zero field takes the default its comment names.
type PairsOptions struct {
	// Store is the shared store.
	Store PairStore
	// Replica names this replica on the pairs it writes (Windows.Replica).
	Replica string
	// Kept is how many pairs the store keeps, the newest across models and
	// replicas (config shadow.pairs_kept), and how many wait here at most
	// while the store fails; zero means 500.
	Kept int
	// FlushInterval is how often the pairs made since the last flush are
	// written; zero means DefaultFlushInterval (1 s).
	FlushInterval time.Duration
	// Timeout bounds each call to the store; zero means DefaultTimeout
	// (5 s).
	Timeout time.Duration
	// WriteFailed, if set, is called after each write to the store that
	// failed (the gateway's sluice_store_write_errors_total).
	WriteFailed func()
	// Logger receives a line when writing starts failing and when it works
	// again; nil discards them.
	Logger *slog.Logger
}

// Pairs keeps this replica's shadow answer pairs in the shared store, so
// that every replica's admin API and dashboard list the fleet's pairs, with
// a seq that is the same everywhere, and a restart loses none.
//
// The proxy gives each pair it keeps to Add, in its shadow worker; Add
// only appends to a list under a lock held for that append alone, so a
// store that is slow or away never holds up mirroring, and the proxy's own
// copy in memory is untouched. Run writes the list every FlushInterval, in
// one transaction per batch that also prunes the table to the newest Kept
// pairs. A write that fails leaves its pairs in the list for the next flush
// (the store is retried each flush, as the fleet's observations are); a
// retried write whose first COMMIT did commit writes nothing twice (the
// pairs are keyed by replica and their number on it). While the store
// fails, at most Kept pairs wait: beyond, the oldest are dropped, as the
// store would have pruned them, and counted in
// sluice_shadow_pairs_unstored_total.
type Pairs struct {
	opt PairsOptions

	mu      sync.Mutex
	pending []sluice.ShadowPair // in the order added: about Seq order, as several shadow workers add
	// writing is the Seqs of the batch being written; Add counts a pair
	// it drops that is among them in droppedWriting, unstored only if the
	// write fails (it was stored otherwise).
	writing        map[int64]bool
	droppedWriting int

	flushMu sync.Mutex // one flush at a time
	failing bool       // under flushMu

	stored, unstored, errs prometheus.Counter
}

// NewPairs returns a Pairs; call Run to start writing.
func NewPairs(opt PairsOptions) *Pairs {
	if opt.Kept <= 0 {
		opt.Kept = 500
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = DefaultFlushInterval
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	return &Pairs{opt: opt,
		stored:   counter("sluice_shadow_pairs_stored_total", "Shadow answer pairs this replica wrote to the shared store."),
		unstored: counter("sluice_shadow_pairs_unstored_total", "Shadow answer pairs of this replica dropped unwritten because the store failed for longer than shadow.pairs_kept pairs took to arrive (they stay in this replica's memory only)."),
		errs:     counter("sluice_shadow_pairs_store_errors_total", "Writes of this replica's shadow answer pairs to the shared store that failed (they are tried again at the next flush)."),
	}
}

// Add queues p, as the proxy kept it (its Seq numbering this replica's
// pairs), for the next flush. It never waits on the store.
func (ps *Pairs) Add(p sluice.ShadowPair) {
	p.Replica = ps.opt.Replica
	ps.mu.Lock()
	ps.pending = append(ps.pending, p)
	drop := len(ps.pending) - ps.opt.Kept
	unstored := 0
	if drop > 0 {
		for _, d := range ps.pending[:drop] {
			if ps.writing[d.Seq] {
				ps.droppedWriting++ // stored unless that write fails
			} else {
				unstored++
			}
		}
		clear(ps.pending[:drop])
		ps.pending = ps.pending[drop:]
	}
	ps.mu.Unlock()
	if unstored > 0 {
		ps.unstored.Add(float64(unstored))
	}
}

// Pending returns how many pairs wait to be written.
func (ps *Pairs) Pending() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return len(ps.pending)
}

// Flush writes the pairs waiting, oldest first, in batches. The pairs of a
// batch that fails stay waiting, and the error is returned.
func (ps *Pairs) Flush(ctx context.Context) error {
	ps.flushMu.Lock()
	defer ps.flushMu.Unlock()
	for {
		ps.mu.Lock()
		// The shadow workers add pairs in any order after numbering them;
		// the store numbers them fleet-wide in the order written, which
		// the pairs list shows newest first: write them in the order they
		// were made (their Seq), not as they reached the queue.
		slices.SortFunc(ps.pending, func(a, b sluice.ShadowPair) int { return cmp.Compare(a.Seq, b.Seq) })
		batch := append([]sluice.ShadowPair(nil), ps.pending[:min(len(ps.pending), pairBatch)]...)
		if len(batch) == 0 {
			ps.mu.Unlock()
			break
		}
		ps.writing = make(map[int64]bool, len(batch))
		for _, p := range batch {
			ps.writing[p.Seq] = true
		}
		ps.mu.Unlock()
		c, cancel := context.WithTimeout(ctx, ps.opt.Timeout)
		err := ps.opt.Store.PutShadowPairs(c, batch, ps.opt.Kept)
		cancel()
		ps.mu.Lock()
		lost := ps.droppedWriting
		ps.writing, ps.droppedWriting = nil, 0
		ps.mu.Unlock()
		if err != nil {
			// Those Add dropped while the batch was written are gone: the
			// write that held them failed.
			ps.unstored.Add(float64(lost))
			ps.errs.Inc()
			if ps.opt.WriteFailed != nil {
				ps.opt.WriteFailed()
			}
			if !ps.failing {
				ps.opt.Logger.Warn("cannot write this replica's shadow pairs to the shared store; keeping them to retry (they stay in this replica's memory either way)", "pending", ps.Pending(), "err", err)
			}
			ps.failing = true
			return err
		}
		ps.stored.Add(float64(len(batch)))
		// Add may have dropped some of the batch meanwhile, and added
		// pairs numbered before its last (the shadow workers add them
		// after numbering them, in any order): take off what was written
		// by its number, not by position or by a bound.
		written := make(map[int64]bool, len(batch))
		for _, p := range batch {
			written[p.Seq] = true
		}
		ps.mu.Lock()
		ps.pending = slices.DeleteFunc(ps.pending, func(p sluice.ShadowPair) bool { return written[p.Seq] })
		ps.mu.Unlock()
	}
	if ps.failing {
		ps.opt.Logger.Info("writing this replica's shadow pairs to the shared store works again")
		ps.failing = false
	}
	return nil
}

// Run flushes every FlushInterval until ctx ends. The last flush, at
// shutdown once the shadow workers have stopped, is the caller's.
func (ps *Pairs) Run(ctx context.Context) {
	t := time.NewTicker(ps.opt.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			ps.Flush(ctx)
		}
	}
}

// Find returns the fleet's stored pairs that match q, newest first (in the
// order they were written), with their fleet-wide Seq, and whether more
// match after the last.
// A store that does not answer within Options.Timeout is reported as
// unavailable (503), as one that cannot be reached is.
func (ps *Pairs) Find(ctx context.Context, q sluice.ShadowPairQuery) ([]sluice.ShadowPair, bool, error) {
	c, cancel := context.WithTimeout(ctx, ps.opt.Timeout)
	defer cancel()
	pairs, more, err := ps.opt.Store.ShadowPairs(c, q)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		err = sluice.Errorf(sluice.CodeUnavailable, "read the fleet's shadow pairs: the shared store did not answer within %v: check that PostgreSQL runs and is reachable, then try again", ps.opt.Timeout)
	}
	return pairs, more, err
}

// Kept is how many pairs the store keeps, fleet-wide.
func (ps *Pairs) Kept() int { return ps.opt.Kept }

// Describe implements prometheus.Collector.
func (ps *Pairs) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range []prometheus.Collector{ps.stored, ps.unstored, ps.errs} {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (ps *Pairs) Collect(ch chan<- prometheus.Metric) {
	for _, c := range []prometheus.Collector{ps.stored, ps.unstored, ps.errs} {
		c.Collect(ch)
	}
}
