package fleet

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/postgres"
)

// Defaults of DrainOptions.
const (
	DefaultBeatInterval = time.Second
	DefaultBeatExpiry   = 5 * time.Second
)

// StaleHorizon is how long a replica whose beats stopped (past Expiry,
// so dead to the drains) stays listed as stale in `sluice replicas`, the
// admin API and the dashboard: a replica that stalled or lost the store
// may still serve, by routing it no longer updates, and an operator paged
// for it (SluiceStoreWritesFailing fires after 3 minutes) should still
// find it listed when they look. One killed (SIGKILL, the OOM killer)
// never deletes its beat, so it leaves the list 15 minutes after its last
// beat; one that stops cleanly deletes its beat and leaves at once.
const StaleHorizon = 15 * time.Minute

// BeatStore is where the replicas publish their requests in flight: the
// PostgreSQL store.
type BeatStore interface {
	PutReplicaBeat(ctx context.Context, b postgres.ReplicaBeat) error
	ReplicaBeats(ctx context.Context, except string, maxAge time.Duration) ([]postgres.ReplicaBeat, error)
	DeleteReplicaBeat(ctx context.Context, replica string) error
}

var _ BeatStore = (*postgres.Store)(nil)

// DrainOptions configures Drain. Store, Replica and InFlight are required;
// every other zero field takes the default its comment names.
type DrainOptions struct {
	// Store is the shared store.
	Store BeatStore
	// Replica names this process in the table (Windows.Replica, so that
	// both tables name a replica alike). It must be this process's alone,
	// new at each start: a drain leaves its own name's requests out, and
	// takes a fresh beat under a name for its owner being alive.
	Replica string
	// InFlight returns this replica's requests in flight per version id
	// (proxy.Proxy.InFlightVersions).
	InFlight func() map[string]int64
	// Interval is how often this replica writes its beat; zero means
	// DefaultBeatInterval (1 s). It writes at once, besides, when the
	// routing it serves by changes and when a version's last request in
	// flight ends.
	Interval time.Duration
	// Expiry is the age, by the store's clock, past which another
	// replica's beat is ignored: the replica died or lost the store. Zero
	// means DefaultBeatExpiry (5 s).
	Expiry time.Duration
	// Timeout bounds each call to the store; zero means DefaultTimeout.
	Timeout time.Duration
	// WriteFailed, if set, is called after each write to the store that
	// failed (the gateway's sluice_store_write_errors_total).
	WriteFailed func()
	// Logger receives a line when writing the beat starts failing and
	// when it works again; nil discards them.
	Logger *slog.Logger
	// Demand returns this replica's demand per client key with a shared
	// limit (proxy.KeyShare.Demand), measured at each Interval's beat and
	// published in it (the busiest MaxDemandKeys), for ShareLimits to
	// weigh each key's share by; nil publishes none.
	Demand func() map[string]float64
	// Release is the release of this replica's binary (sluice.Release),
	// published in its beat for `sluice replicas`; "" publishes none, as
	// an older binary's beat.
	Release string
	// Leading, if set, says whether this replica runs the rollout
	// controller, published in its beat; call Changed when it changes.
	// Nil publishes false.
	Leading func() bool
}

// Drain makes the drain after a rollback cover the requests in flight
// through every replica, not only the one that took the rollback: each
// replica publishes, in its beat, the registry revision its routing was
// built from and its requests in flight per version, and InFlightElsewhere
// sums the live replicas' counts.
type Drain struct {
	opt    DrainOptions
	routed atomic.Int64 // the revision the routing table was built from
	// draining is set once this replica stops taking requests (Draining).
	draining atomic.Bool
	kick     chan struct{} // a beat is wanted now; coalesced
	// published holds the demand of this replica's last demandHistory
	// beat generations written, oldest first (ShareLimits weighs by
	// them); mu guards it.
	mu        sync.Mutex
	published []Demand
}

// NewDrain returns the Drain of a replica; call Run to publish its beats
// and Routed whenever its routing table changes.
func NewDrain(opt DrainOptions) *Drain {
	if opt.Interval <= 0 {
		opt.Interval = DefaultBeatInterval
	}
	if opt.Expiry <= 0 {
		opt.Expiry = DefaultBeatExpiry
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Drain{opt: opt, kick: make(chan struct{}, 1)}
}

// Routed says that this replica now routes by a table built from registry
// revision rev; call it once the table is in place, so that the counts
// published with rev include every request routed by an older table. The
// beat is written at once.
func (d *Drain) Routed(rev int64) {
	d.routed.Store(rev)
	d.Changed()
}

// Draining says that this replica stops taking new requests and only
// finishes those in flight, as it stops: its beat says so at once, and the
// other replicas no longer count it among those sharing the client keys'
// limits (LiveReplicas), while a rollback's drain still waits for its
// requests in flight.
func (d *Drain) Draining() {
	d.draining.Store(true)
	d.Changed()
}

// Expiry returns the age past which a replica's beat is ignored: the
// fleet's live window.
func (d *Drain) Expiry() time.Duration { return d.opt.Expiry }

// Changed has the beat written at once, as what it says of this replica
// changed (it became the leader or stopped being one).
func (d *Drain) Changed() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run writes this replica's beat every Interval, when Routed is called and
// when a version's last request in flight ends, until ctx ends; then it
// deletes the beat, so that no drain waits for the replica's expiry.
// Stop the Run only once this replica's requests in flight have ended.
func (d *Drain) Run(ctx context.Context) {
	failing := false
	var last map[string]int64
	// beat writes the beat; measure says to measure the demand anew (an
	// Interval's beat), else the last written is written again.
	beat := func(measure bool) {
		b := postgres.ReplicaBeat{Replica: d.opt.Replica, Revision: d.routed.Load(), Draining: d.draining.Load(), Release: d.opt.Release}
		if d.opt.Leading != nil {
			b.Leader = d.opt.Leading()
		}
		var demand Demand
		if measure {
			if d.opt.Demand != nil {
				demand = capDemand(d.opt.Demand())
			}
			demand.Epoch = d.epoch(time.Now())
		} else {
			demand = d.lastPublished()
		}
		b.Demand, b.DemandRest, b.DemandEpoch = demand.Keys, demand.Rest, demand.Epoch
		b.InFlight = d.opt.InFlight() // counted after the revision was read
		c, cancel := context.WithTimeout(ctx, d.opt.Timeout)
		err := d.opt.Store.PutReplicaBeat(c, b)
		cancel()
		if err == nil && measure {
			// Only what the others may have read: a replica weighs
			// its share by its own demand as they see it.
			d.publish(demand)
		}
		if err != nil && ctx.Err() == nil && d.opt.WriteFailed != nil {
			d.opt.WriteFailed()
		}
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			d.opt.Logger.Warn("cannot publish this replica's requests in flight; other replicas' rollback drains wait for its beat to expire", "err", err)
		case err == nil && failing:
			d.opt.Logger.Info("publishing this replica's requests in flight works again")
		}
		failing = err != nil
		last = b.InFlight
	}
	beat(true)
	// The beats that measure the demand come at the clock's Interval
	// boundaries, the same moments on every replica (Drain.epoch), so
	// that all weigh the same generation (keyShares).
	t := time.NewTimer(d.untilNext(time.Now(), 0))
	defer t.Stop()
	// A drain elsewhere waits for this replica's count of the version to
	// reach 0: say so within a few milliseconds, not at the next beat.
	poll := time.NewTicker(min(d.opt.Interval, 20*time.Millisecond))
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			c, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opt.Timeout)
			defer cancel()
			if err := d.opt.Store.DeleteReplicaBeat(c, d.opt.Replica); err != nil {
				d.opt.Logger.Warn("cannot delete this replica's beat; other replicas ignore it once it expires", "err", err)
			}
			return
		case <-d.kick:
			beat(false)
		case <-t.C:
			beat(true)
			t.Reset(d.untilNext(time.Now(), 0))
		case <-poll.C:
			now := d.opt.InFlight()
			if ended(last, now) {
				beat(false)
			}
		}
	}
}

// publish notes demand as written in a beat.
func (d *Drain) publish(demand Demand) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.published = remember(d.published, demand)
}

// epoch returns the beat generation at t: the number of the clock's last
// Interval boundary (or of the next, within a tenth of an Interval, for a
// timer that fired a little early by the wall clock), the same on every
// replica whose clock keeps time (NTP's milliseconds are far inside it).
func (d *Drain) epoch(t time.Time) int64 {
	i := int64(d.opt.Interval)
	return (t.UnixNano() + i/10) / i
}

// untilNext returns the time from now to the clock's next Interval
// boundary plus offset (0 ≤ offset < Interval), at least a millisecond.
func (d *Drain) untilNext(now time.Time, offset time.Duration) time.Duration {
	i, t := int64(d.opt.Interval), now.UnixNano()-int64(offset)
	next := (t/i + 1) * i
	return max(time.Duration(next-t), time.Millisecond)
}

// lastPublished returns the demand of the last beat written on an
// Interval (none before the first).
func (d *Drain) lastPublished() Demand {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.published) == 0 {
		return Demand{}
	}
	return d.published[len(d.published)-1]
}

// publishedDemand returns a copy of the demand of this replica's last
// demandHistory beat generations, oldest first.
func (d *Drain) publishedDemand() []Demand {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.published)
}

// ended reports whether a version with requests in before has none in now.
func ended(before, now map[string]int64) bool {
	for id := range before {
		if now[id] == 0 {
			return true
		}
	}
	return false
}

// InFlightElsewhere returns the requests in flight to version id through
// the other live replicas, as their beats last said. A live replica whose
// last beat predates its routing by revision (the commit that took the
// version out) counts as one request: it may still route new requests to
// the version. Replicas whose beat is older than Expiry are ignored.
func (d *Drain) InFlightElsewhere(ctx context.Context, id string, revision int64) (int64, error) {
	c, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	beats, err := d.opt.Store.ReplicaBeats(c, d.opt.Replica, d.opt.Expiry)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, b := range beats {
		if b.Revision < revision {
			n++
			continue
		}
		n += b.InFlight[id]
	}
	return n, nil
}

// Alive reports whether the replica of that name still beats (its last
// beat is younger than Expiry, by the store's clock): the rollout
// controller's leader completes the rollback side effects left pending by
// a replica that does not.
func (d *Drain) Alive(ctx context.Context, replica string) (bool, error) {
	if replica == d.opt.Replica {
		return true, nil
	}
	c, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	beats, err := d.opt.Store.ReplicaBeats(c, d.opt.Replica, d.opt.Expiry)
	if err != nil {
		return false, err
	}
	for _, b := range beats {
		if b.Replica == replica {
			return true, nil
		}
	}
	return false, nil
}
