package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// watchTick is how often the watchdog looks at the requests in flight: a
// backend's first-byte timeout, the request's deadline and a client
// hanging up take effect within this much of when they are due, and the
// idle bound within two (idleMark.stalled).
const watchTick = 5 * time.Millisecond

// watchEpoch is the origin of the watchdog's clock.
var watchEpoch = time.Now()

// watchdog bounds the backend requests in flight with one goroutine, in
// place of a deadline timer and a context watch per request (a
// context.AfterFunc and two SetDeadline calls a request cost about 4% of
// the gateway's CPU and an eighth of its allocations, bench/benchstat-
// watchdog.txt). Every watchTick it aborts, by setting a deadline in the
// past on the connection, each request whose context has ended or whose
// time is up; the blocked read or write returns a timeout at once. It
// runs only while requests are in flight.
type watchdog struct {
	mu      sync.Mutex
	conns   []*upConn // in flight; each knows its index
	running bool
}

// watchState is what the watchdog knows of the request on a connection.
type watchState struct {
	idx int
	ctx context.Context
	// headerBy is when the answer's header must have come, 0 once it has;
	// doneBy bounds the whole exchange, 0 for no bound. Both are
	// nanoseconds since watchEpoch on the monotonic clock, so a step of
	// the wall clock (NTP, a resumed VM) neither fires nor delays them.
	headerBy atomic.Int64
	doneBy   int64
	// idle bounds, once headerBy is 0, a read waiting on the backend
	// (idle.go), nanoseconds; 0 for no bound. mark counts the reads.
	idle int64
	mark idleMark
	// aborted: the watchdog cut the request off; the connection is spent.
	// idleCut: it was the idle bound that did.
	aborted, idleCut bool
}

// watch starts watching the request c is about to carry; idle, when not
// 0, bounds its answer's silence once headerArrived.
func (w *watchdog) watch(c *upConn, ctx context.Context, headerBy, doneBy time.Time, idle time.Duration) {
	s := &c.watch
	s.ctx, s.doneBy, s.idle = ctx, 0, max(0, int64(idle))
	s.headerBy.Store(max(1, int64(headerBy.Sub(watchEpoch))))
	if !doneBy.IsZero() {
		s.doneBy = max(1, int64(doneBy.Sub(watchEpoch)))
	}
	w.mu.Lock()
	s.aborted, s.idleCut = false, false
	s.mark.reset(int64(time.Since(watchEpoch)))
	s.idx = len(w.conns)
	w.conns = append(w.conns, c)
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go w.run()
	}
}

// headerArrived lifts the first-byte bound of c's request.
func (w *watchdog) headerArrived(c *upConn) { c.watch.headerBy.Store(0) }

// idleCutOf returns the idle bound of c's request when the watchdog cut it
// off for its silence, else 0. A failed read asks, to say why it failed.
func (w *watchdog) idleCutOf(c *upConn) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c.watch.idleCut {
		return time.Duration(c.watch.idle)
	}
	return 0
}

// unwatch stops watching c's request and reports whether the watchdog cut
// it off.
func (w *watchdog) unwatch(c *upConn) (aborted bool) {
	s := &c.watch
	w.mu.Lock()
	last := w.conns[len(w.conns)-1]
	w.conns[s.idx] = last
	last.watch.idx = s.idx
	w.conns[len(w.conns)-1] = nil
	w.conns = w.conns[:len(w.conns)-1]
	aborted = s.aborted
	s.ctx = nil
	w.mu.Unlock()
	return aborted
}

func (w *watchdog) run() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	for range t.C {
		w.mu.Lock()
		if len(w.conns) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		now := int64(time.Since(watchEpoch))
		for _, c := range w.conns {
			s := &c.watch
			if s.aborted {
				continue
			}
			hb := s.headerBy.Load()
			cut := s.ctx.Err() != nil || hb != 0 && now >= hb || s.doneBy != 0 && now >= s.doneBy
			if !cut && hb == 0 && s.idle != 0 && s.mark.stalled(now, s.idle) {
				cut, s.idleCut = true, true
			}
			if cut {
				s.aborted = true
				c.nc.SetDeadline(aLongTimeAgo)
			}
		}
		w.mu.Unlock()
	}
}
