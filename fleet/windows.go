package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres"
)

// Defaults of Options.
const (
	DefaultFlushInterval = time.Second
	DefaultPollInterval  = time.Second
	DefaultRetention     = 15 * time.Minute
	DefaultMaxPending    = 120
	DefaultTimeout       = 5 * time.Second
	DefaultSeedMargin    = 2 * time.Minute
)

// Store is where the replicas exchange their batches: the PostgreSQL store.
type Store interface {
	PutObservationBatches(ctx context.Context, rows []postgres.ObservationBatch) error
	ObservationBatches(ctx context.Context, since time.Time, except string, after map[string]int64, fn func(postgres.ObservationBatch) error) error
	PruneObservationBatches(ctx context.Context, keep time.Duration) (int64, error)
}

var _ Store = (*postgres.Store)(nil)

// Options configures Windows. Recorder and Store are required; every other
// zero field takes the default its comment names.
type Options struct {
	// Recorder is this replica's own Recorder, which the proxy records to.
	Recorder *observe.Recorder
	// Store is the shared store.
	Store Store
	// Window configures the Recorder that holds the other replicas'
	// observations; give it the local Recorder's options, so that both
	// keep the same number of observations. The zero value is observe's
	// defaults, as the gateway uses.
	Window observe.Options
	// Replica names this replica (such as a StatefulSet's pod name); empty
	// means the host name and the process id. Random bytes, new at each
	// start, are always added (Windows.Replica): a process's rows are its
	// own, so a restarted replica is not taken for its former self (its
	// flushes, numbered from 1 again, were dropped as already read; the
	// rollback work it owned looked alive and was never taken over), nor
	// two live processes given one name for each other (each one's drain
	// left the other's requests in flight out as its own).
	Replica string
	// FlushInterval is how often this replica writes what it observed;
	// zero means DefaultFlushInterval (1 s).
	FlushInterval time.Duration
	// PollInterval is how often it reads the others' rows; zero means
	// DefaultPollInterval (1 s).
	PollInterval time.Duration
	// Retention is how long rows stay in the table, which bounds how far
	// back a replica that starts (or takes over) sees the others' traffic;
	// zero means DefaultRetention (15 minutes).
	Retention time.Duration
	// MaxPending is how many flushes wait, while the store fails, before
	// the oldest is dropped; zero means DefaultMaxPending (two minutes'
	// worth at one flush a second).
	MaxPending int
	// Timeout bounds each call to the store; zero means DefaultTimeout
	// (5 s).
	Timeout time.Duration
	// SeedMargin is how far inside Retention a seed's cut must lie for
	// the flushes the first read finds to hold every request from the cut
	// on (Cut), the clocks' differences included; zero means
	// DefaultSeedMargin (2 minutes). It must be less than Retention.
	SeedMargin time.Duration
	// WriteFailed, if set, is called after each write to the store that
	// failed (the gateway's sluice_store_write_errors_total).
	WriteFailed func()
	// Logger receives a line when flushing or reading starts failing and
	// when it works again; nil discards them.
	Logger *slog.Logger
}

// Windows is the fleet's observation windows: the union of this replica's
// Recorder and the other replicas' flushed observations. It implements
// rollout.Windows, and Run keeps both sides going. It is safe for
// concurrent use.
type Windows struct {
	opt    Options
	remote *observe.Recorder
	union  observe.Union
	cursor *observe.Cursor
	m      *metrics

	flushMu sync.Mutex // serialises Flush
	seq     int64
	pending []flush
	failing bool

	pullMu      sync.Mutex // serialises Pull
	horizon     time.Time
	last        map[string]replicaMark
	pullFailing bool
	cuts        map[seriesKey]time.Time // Cut: where Pull begins to take a version's observations; guarded by pullMu

	oldestPending atomic.Int64  // Unix nanoseconds of the oldest waiting flush; 0 when none
	lastPull      atomic.Int64  // Unix nanoseconds of the last successful read
	pulled        chan struct{} // closed by the first successful read (Pulled)
}

// flush is one flush's rows, waiting to be written.
type flush struct {
	at           time.Time
	rows         []postgres.ObservationBatch
	observations int
}

// seriesKey names a version of a model.
type seriesKey struct{ model, version string }

// replicaMark is what this replica has read of another.
type replicaMark struct {
	seq  int64     // the latest flush read
	seen time.Time // when a row of it was last read, by the local clock
}

// overlap is how far before the newest row seen a read starts again: a
// flush whose statement began earlier (its flushed_at is the start) but
// committed later is still read. A flush's statement lasts at most
// Options.Timeout, far less.
const overlap = 30 * time.Second

// New returns the Windows of a replica; call Run to start flushing and
// reading. The first flush holds what the Recorder records from now on.
func New(opt Options) *Windows {
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = DefaultFlushInterval
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = DefaultPollInterval
	}
	if opt.Retention <= 0 {
		opt.Retention = DefaultRetention
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = DefaultMaxPending
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.SeedMargin <= 0 {
		opt.SeedMargin = DefaultSeedMargin
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opt.Replica = replicaName(opt.Replica)
	remote := observe.New(opt.Window)
	w := &Windows{
		opt:    opt,
		remote: remote,
		union:  observe.Union{opt.Recorder, remote},
		cursor: observe.NewCursor(opt.Recorder),
		last:   map[string]replicaMark{},
		pulled: make(chan struct{}),
	}
	w.m = newMetrics(w)
	return w
}

// replicaName names this process: name (by default host and process id)
// and random bytes, so that a restarted replica never continues another's
// flush numbers, beat or rollback work.
func replicaName(name string) string {
	if name == "" {
		host, _ := os.Hostname()
		name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	var b [4]byte
	rand.Read(b[:])
	return name + "-" + hex.EncodeToString(b[:])
}

// Replica returns the name this process writes its rows under: the name
// given in Options.Replica and an instance id new at each start. Give it to
// fleet.DrainOptions.Replica and rollout.Options.Replica, so that the three
// name the process alike.
func (w *Windows) Replica() string { return w.opt.Replica }

// Window returns the observations of a version of a model that arrived at
// or after since on any replica, as observe.Union.Window does. The other
// replicas' observations reach it a flush and a read after they were
// recorded (about two seconds).
func (w *Windows) Window(model, version, category string, since time.Time) observe.Sample {
	return w.union.Window(model, version, category, since)
}

// Randomized is Window over the requests whose version the split assigned
// at random on any replica, as observe.Union.Randomized: what the canary
// analysis compares. Another replica's observations say how they were
// routed, except those of a build from before the Batches said so, which
// count as randomized.
func (w *Windows) Randomized(model, version, category string, since time.Time) observe.Sample {
	return w.union.Randomized(model, version, category, since)
}

// RandomizedBetween is Randomized with an end, as
// observe.Recorder.RandomizedBetween: an A/B test waiting for users'
// feedback reads its sample so.
func (w *Windows) RandomizedBetween(model, version, category string, since, until time.Time) observe.Sample {
	return w.union.RandomizedBetween(model, version, category, since, until)
}

// Between is Window with an end, as observe.Recorder.Between.
func (w *Windows) Between(model, version, category string, since, until time.Time) observe.Sample {
	return w.union.Between(model, version, category, since, until)
}

// Versions returns the versions of a model any replica has observed.
func (w *Windows) Versions(model string) []string { return w.union.Versions(model) }

// Lag is how long after a request on another replica its observation is
// here at the latest: a flush and a read, with a second's margin.
func (w *Windows) Lag() time.Duration { return w.opt.FlushInterval + w.opt.PollInterval + time.Second }

// Categories returns the categories any replica has seen for a model.
func (w *Windows) Categories(model string) []string { return w.union.Categories(model) }

// Run flushes every FlushInterval, reads the others' rows every
// PollInterval and prunes old rows every minute, until ctx ends. To write
// what the replica observed last, call Flush once its last request has
// finished.
func (w *Windows) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		every(ctx, w.opt.FlushInterval, func() { w.Flush(ctx) })
	})
	wg.Go(func() {
		w.Pull(ctx) // at once: what the table holds of the others
		every(ctx, w.opt.PollInterval, func() { w.Pull(ctx) })
	})
	wg.Go(func() {
		every(ctx, time.Minute, func() {
			c, cancel := context.WithTimeout(ctx, w.opt.Timeout)
			defer cancel()
			w.opt.Store.PruneObservationBatches(c, w.opt.Retention)
		})
	})
	wg.Wait()
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
