package proxy

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// The idle bound (Options.IdleTimeout, timeouts.idle): once an answer has
// begun (its header, or a stream's first line), the backend may go at
// most this long without sending a byte. Without it a backend that keeps
// the connection open and sends nothing more (a wedged GPU worker, a
// deadlocked server) held its client until the request's timeout, 10
// minutes by default; nginx bounds the same with proxy_read_timeout.
//
// What is bounded is a read waiting on the backend, not the time between
// two reads: a relay that is not reading because its client is slow (its
// write blocks) is not the backend's silence, and is not cut off. Both
// clients bound it the same way (idleMark): each read from the backend
// counts twice, odd while it waits, and a watchdog goroutine that looks
// every watchTick cuts off a wait it has seen for the bound. A read costs
// two atomic adds, no clock reading, timer or deadline; nothing is done
// per event of a stream.

// idleError is the error of a read the idle bound cut off.
type idleError struct{ d time.Duration }

func (e *idleError) Error() string {
	return "the backend sent nothing for " + e.d.String() + " (timeouts.idle)"
}

// Timeout reports true: the error is a timeout, as a net.Error says.
func (e *idleError) Timeout() bool { return true }

// Temporary reports true, as for other timeouts.
func (e *idleError) Temporary() bool { return true }

// idleCut reports whether err comes from a read the idle bound cut off,
// and the bound.
func idleCut(err error) (time.Duration, bool) {
	var ie *idleError
	if errors.As(err, &ie) {
		return ie.d, true
	}
	return 0, false
}

// idleMessage says that the idle bound d cut off the backend for version
// id (model:version) in the middle of what (its stream, its answer).
func idleMessage(id, what string, d time.Duration) string {
	return "the backend for " + id + " sent nothing for " + d.String() + " in the middle of " + what + " and was cut off (timeouts.idle)"
}

// idleMark tells a backend that sends nothing from a relay that is not
// reading: waits counts each read from the backend twice, at its start and
// its end, so it is odd while a read waits.
type idleMark struct {
	waits atomic.Uint64
	// seen and seenAt are the watchdog's, under its mutex: waits when it
	// last looked, and when (since watchEpoch) it first saw that value.
	seen   uint64
	seenAt int64
}

// reset starts the watchdog's count at now.
func (m *idleMark) reset(now int64) { m.seen, m.seenAt = m.waits.Load(), now }

// stalled reports, to the watchdog looking at now (since watchEpoch),
// whether one read has waited idle or longer. The watchdog first sees a
// wait at most a watchTick after it began, so a wait is cut off between
// idle and idle + 2 watchTicks after it began, never before.
func (m *idleMark) stalled(now, idle int64) bool {
	w := m.waits.Load()
	if w != m.seen || w&1 == 0 {
		m.seen, m.seenAt = w, now
		return false
	}
	return now-m.seenAt >= idle
}

// idleBody bounds the silence of an answer that came through
// Options.Transport, whose connection the proxy does not hold: the
// watcher closes the body, which ends a read blocked on it (as
// firstByteTimer does), and the read returns an idleError. An exchange
// keeps its idleBody (exchange.idle) and returns it to the pool when its
// answer is relayed (exchange.releaseReader), so that a stream costs no
// allocation for it and a second Close of a body is harmless.
type idleBody struct {
	body  io.ReadCloser
	owner *idleWatch
	idle  int64 // the bound, nanoseconds
	mark  idleMark
	// on: the bound is in force (the answer's first byte came).
	on atomic.Bool
	// cut: the watcher closed the body for its silence.
	cut atomic.Bool
	// idx is the body's place in owner.bodies, -1 when not there (under
	// owner.mu).
	idx int
}

var idleBodies = sync.Pool{New: func() any { return &idleBody{idx: -1} }}

func (b *idleBody) Read(p []byte) (int, error) {
	b.mark.waits.Add(1)
	n, err := b.body.Read(p)
	b.mark.waits.Add(1)
	if err != nil && b.cut.Load() {
		err = &idleError{d: time.Duration(b.idle)}
	}
	return n, err
}

// Close stops watching the body and closes it; a second Close does
// nothing.
func (b *idleBody) Close() error {
	if !b.owner.remove(b) {
		return nil
	}
	return b.body.Close()
}

// idleWatch is the watcher of the idleBodies being read: one goroutine,
// running while there are any.
type idleWatch struct {
	mu      sync.Mutex
	bodies  []*idleBody
	running bool
}

// wrap returns body bounded by idle, in force at once when on is set, else
// from firstByteArrived; b, when not nil, is the exchange's idleBody,
// closed, to be used again.
func (w *idleWatch) wrap(b *idleBody, body io.ReadCloser, idle time.Duration, on bool) *idleBody {
	if b == nil {
		b = idleBodies.Get().(*idleBody)
	} else {
		w.remove(b) // closed already, unless an attempt's body was dropped unclosed
	}
	b.body, b.owner, b.idle = body, w, int64(idle)
	b.on.Store(on)
	b.cut.Store(false)
	w.mu.Lock()
	b.mark.reset(int64(time.Since(watchEpoch)))
	b.idx = len(w.bodies)
	w.bodies = append(w.bodies, b)
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go w.run()
	}
	return b
}

// remove stops watching b and reports whether it was watched.
func (w *idleWatch) remove(b *idleBody) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if b.idx < 0 {
		return false
	}
	last := w.bodies[len(w.bodies)-1]
	w.bodies[b.idx] = last
	last.idx = b.idx
	w.bodies[len(w.bodies)-1] = nil
	w.bodies = w.bodies[:len(w.bodies)-1]
	b.idx = -1
	return true
}

func (w *idleWatch) run() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	var cut []io.Closer
	for range t.C {
		w.mu.Lock()
		if len(w.bodies) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		now := int64(time.Since(watchEpoch))
		for _, b := range w.bodies {
			switch {
			case b.cut.Load():
			case !b.on.Load():
				b.mark.reset(now)
			case b.mark.stalled(now, b.idle):
				b.cut.Store(true)
				cut = append(cut, b.body)
			}
		}
		w.mu.Unlock()
		// Closed outside the lock: a transport's Close may wait for its
		// connection's reader. The bodies are their requests' own (not
		// the pooled idleBody), so a late Close touches no other request.
		for i, c := range cut {
			c.Close()
			cut[i] = nil
		}
		cut = cut[:0]
	}
}
