package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// EjectOptions configures an Ejector. Zero fields take the defaults noted.
type EjectOptions struct {
	// ConsecutiveFailures ejects a version after this many failed attempts
	// in a row; default 5.
	ConsecutiveFailures int
	// FailureRate ejects a version when at least this fraction of its
	// attempts in the last Window failed, once MinRequests were made;
	// default 0.5.
	FailureRate float64
	// MinRequests is the least number of attempts in Window before the
	// failure rate counts; default 20.
	MinRequests int
	// Window is how far back the failure rate looks; default 10 s.
	Window time.Duration
	// Cooldown is how long a first ejection lasts; default 10 s. A version
	// that fails again on probation is ejected for twice as long as the time
	// before, up to MaxCooldown.
	Cooldown time.Duration
	// MaxCooldown caps an ejection; default 5 min.
	MaxCooldown time.Duration
	// ProbeSuccesses is how many successful attempts in a row a version on
	// probation (half-open) needs to be trusted again; default 3.
	ProbeSuccesses int
	// OnChange is told the set of ejected version ids, each with the reason,
	// whenever it changes. It runs on the goroutine of Run, never on the
	// request path.
	OnChange func(ejected map[string]string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger logs ejections and returns; nil discards.
	Logger *slog.Logger
}

// The states of a version's circuit breaker.
const (
	breakerClosed   int32 = iota // taking traffic
	breakerOpen                  // ejected: out of splits until its cool-down ends
	breakerHalfOpen              // on probation: back in splits; one failure ejects it again
)

// ejectBuckets is how many slices Window is cut into for the failure rate.
const ejectBuckets = 10

// Ejector is outlier ejection: a circuit breaker per version, fed the
// outcome of every backend attempt (Options.OnResult = Ejector.Result). A
// version whose attempts keep failing (ConsecutiveFailures in a row, or
// FailureRate over Window) is ejected: the server leaves it out of splits
// for a cool-down, as it does a version that fails health checks. When the
// cool-down ends the version is back on probation (half-open): its share of
// the split is the probe, and the first failure ejects it again for twice as
// long, while ProbeSuccesses successes close the breaker.
//
// Pins, labels and rules still reach an ejected version (the caller asked
// for it), and the proxy still retries failures on stable, so clients do not
// see the failures that eject a candidate.
//
// Result costs a map lookup and a few atomic operations on the request path;
// a lock is taken only when a version is first seen, a time bucket rolls
// over, or the breaker changes state.
type Ejector struct {
	opt  EjectOptions
	m    atomic.Pointer[map[string]*breaker]
	mu   sync.Mutex // guards creating breakers
	kick chan struct{}

	ejections atomic.Int64
}

// breaker is one version's circuit breaker.
type breaker struct {
	id      string
	state   atomic.Int32
	consec  atomic.Int64
	buckets [ejectBuckets]bucket

	mu        sync.Mutex // guards the fields below and state changes
	ejections int        // ejections since the breaker last closed
	until     time.Time
	reason    string
	cause     string // why it was first ejected since it last closed
	probeOK   int
	timer     *time.Timer
}

// bucket counts the attempts of one slice of the window.
type bucket struct {
	slot          atomic.Int64 // which slice of time it holds
	total, failed atomic.Int64
}

// NewEjector returns an Ejector with opt's defaults filled in. Call Run to
// deliver changes to OnChange.
func NewEjector(opt EjectOptions) *Ejector {
	if opt.ConsecutiveFailures <= 0 {
		opt.ConsecutiveFailures = 5
	}
	if opt.FailureRate <= 0 {
		opt.FailureRate = 0.5
	}
	if opt.MinRequests <= 0 {
		opt.MinRequests = 20
	}
	if opt.Window <= 0 {
		opt.Window = 10 * time.Second
	}
	if opt.Cooldown <= 0 {
		opt.Cooldown = 10 * time.Second
	}
	if opt.MaxCooldown < opt.Cooldown {
		opt.MaxCooldown = max(5*time.Minute, opt.Cooldown)
	}
	if opt.ProbeSuccesses <= 0 {
		opt.ProbeSuccesses = 3
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Ejector{opt: opt, kick: make(chan struct{}, 1)}
	m := map[string]*breaker{}
	e.m.Store(&m)
	return e
}

// Result records the outcome of one attempt at a version, by full id
// ("chat:v1.2.0"). It is Options.OnResult's signature.
func (e *Ejector) Result(versionID string, failed bool) {
	b := e.breaker(versionID)
	switch b.state.Load() {
	case breakerOpen:
		// Pinned requests and those in flight when it was ejected: the
		// version is already out; they change nothing.
		return
	case breakerHalfOpen:
		e.probe(b, failed)
		return
	}
	now := e.opt.Now()
	b.count(now, e.opt.Window, failed)
	if !failed {
		if b.consec.Load() != 0 {
			b.consec.Store(0)
		}
		return
	}
	n := b.consec.Add(1)
	if n >= int64(e.opt.ConsecutiveFailures) {
		e.trip(b, breakerClosed, fmt.Sprintf("%d failed requests in a row", n))
		return
	}
	total, bad := b.rate(now, e.opt.Window)
	if total >= int64(e.opt.MinRequests) && float64(bad) >= e.opt.FailureRate*float64(total) {
		e.trip(b, breakerClosed, fmt.Sprintf("%d of its last %d requests failed (in %s)", bad, total, e.opt.Window))
	}
}

func (e *Ejector) breaker(id string) *breaker {
	if b := (*e.m.Load())[id]; b != nil {
		return b
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := *e.m.Load()
	if b := old[id]; b != nil {
		return b
	}
	next := maps.Clone(old)
	b := &breaker{id: id}
	next[id] = b
	e.m.Store(&next)
	return b
}

func slotOf(now time.Time, window time.Duration) int64 {
	return now.UnixNano() / int64(window/ejectBuckets)
}

// count adds an attempt to the bucket of now.
func (b *breaker) count(now time.Time, window time.Duration, failed bool) {
	slot := slotOf(now, window)
	k := &b.buckets[slot%ejectBuckets]
	if k.slot.Load() != slot {
		b.mu.Lock()
		if k.slot.Load() != slot {
			k.total.Store(0)
			k.failed.Store(0)
			k.slot.Store(slot)
		}
		b.mu.Unlock()
	}
	k.total.Add(1)
	if failed {
		k.failed.Add(1)
	}
}

// rate returns the attempts and failures in the window ending at now.
func (b *breaker) rate(now time.Time, window time.Duration) (total, failed int64) {
	slot := slotOf(now, window)
	for i := range b.buckets {
		k := &b.buckets[i]
		if s := k.slot.Load(); s > slot-ejectBuckets && s <= slot {
			total += k.total.Load()
			failed += k.failed.Load()
		}
	}
	return total, failed
}

// trip ejects b, if it is still in state from. A version failing on
// probation keeps the reason it was first ejected for.
func (e *Ejector) trip(b *breaker, from int32, reason string) {
	b.mu.Lock()
	if b.state.Load() != from {
		b.mu.Unlock()
		return
	}
	b.ejections++
	if from == breakerClosed {
		b.cause = reason
	} else {
		reason = "it failed again on probation; first ejected because " + b.cause
	}
	d := e.opt.Cooldown
	for i := 1; i < b.ejections && d < e.opt.MaxCooldown; i++ {
		d *= 2
	}
	d = min(d, e.opt.MaxCooldown)
	b.until = e.opt.Now().Add(d)
	b.reason = reason
	b.state.Store(breakerOpen)
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = time.AfterFunc(d, func() { e.release(b) })
	b.mu.Unlock()
	e.ejections.Add(1)
	e.opt.Logger.Warn("version ejected", "version", b.id, "reason", reason, "for", d)
	e.changed()
}

// release puts an ejected version on probation when its cool-down ends.
func (e *Ejector) release(b *breaker) {
	b.mu.Lock()
	if b.state.Load() != breakerOpen {
		b.mu.Unlock()
		return
	}
	b.probeOK = 0
	b.consec.Store(0)
	for i := range b.buckets {
		b.buckets[i].slot.Store(0)
	}
	b.state.Store(breakerHalfOpen)
	b.mu.Unlock()
	e.opt.Logger.Info("ejected version back on probation", "version", b.id)
	e.changed()
}

// probe handles the outcome of an attempt at a version on probation.
func (e *Ejector) probe(b *breaker, failed bool) {
	if failed {
		e.trip(b, breakerHalfOpen, "")
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state.Load() != breakerHalfOpen {
		return
	}
	b.probeOK++
	if b.probeOK >= e.opt.ProbeSuccesses {
		b.state.Store(breakerClosed)
		b.ejections = 0
		b.reason = ""
		e.opt.Logger.Info("version trusted again after probation", "version", b.id)
	}
}

func (e *Ejector) changed() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Ejected returns the ejected version ids, each with the reason.
func (e *Ejector) Ejected() map[string]string {
	out := map[string]string{}
	for id, b := range *e.m.Load() {
		if b.state.Load() == breakerOpen {
			b.mu.Lock()
			out[id] = b.reason
			b.mu.Unlock()
		}
	}
	return out
}

// Reason says why a version is ejected, and whether it is.
func (e *Ejector) Reason(versionID string) (string, bool) {
	b := (*e.m.Load())[versionID]
	if b == nil || b.state.Load() != breakerOpen {
		return "", false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reason, true
}

// Run delivers changes of the ejected set to OnChange until ctx ends, then
// stops the cool-down timers.
func (e *Ejector) Run(ctx context.Context) {
	for {
		select {
		case <-e.kick:
			if e.opt.OnChange != nil {
				e.opt.OnChange(e.Ejected())
			}
		case <-ctx.Done():
			for _, b := range *e.m.Load() {
				b.mu.Lock()
				if b.timer != nil {
					b.timer.Stop()
				}
				b.mu.Unlock()
			}
			return
		}
	}
}

var (
	ejectedDesc = prometheus.NewDesc("sluice_version_ejected",
		"1 while outlier ejection keeps a version out of splits, else 0.", []string{"model", "version"}, nil)
	ejectionsDesc = prometheus.NewDesc("sluice_ejections_total",
		"Versions ejected by outlier ejection (the circuit breaker per version).", nil, nil)
)

// Describe implements prometheus.Collector.
func (e *Ejector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ejectedDesc
	ch <- ejectionsDesc
}

// Collect implements prometheus.Collector: sluice_version_ejected per
// version seen and sluice_ejections_total.
func (e *Ejector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(ejectionsDesc, prometheus.CounterValue, float64(e.ejections.Load()))
	for id, b := range *e.m.Load() {
		model, version, ok := sluice.SplitFullID(id)
		if !ok {
			continue
		}
		v := 0.0
		if b.state.Load() == breakerOpen {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(ejectedDesc, prometheus.GaugeValue, v, model, version)
	}
}
