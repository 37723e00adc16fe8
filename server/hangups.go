package server

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/internal/sockpeek"
)

// hangups notices clients that hang up while their hot request waits for
// the backend (a non-streamed answer can take a minute), so the proxy stops
// the backend's work as it does behind net/http, whose server reads ahead
// on every connection for that. Here one goroutine looks, every 100 ms and
// only while hot requests are in flight, at the connections of requests
// older than 100 ms with a non-blocking peek: end of stream or an error
// means the client is gone. Quick requests cost a lock and two slice
// operations. The peeks happen outside the lock (a request that ended
// meanwhile is recognised by its generation), at most maxPeeks a tick, in
// turn: with thousands of slow requests in flight each is looked at every
// few hundred milliseconds, and starting or ending a request never waits
// for them.
type hangups struct {
	mu      sync.Mutex
	reqs    []*watched
	running bool
	gen     uint64
	next    int // where the next tick's peeks start, for fairness

	afterPeek func() // tests: runs between the peeks and acting on them
}

// watched is one hot request in flight.
type watched struct {
	conn   net.Conn
	cancel context.CancelCauseFunc
	since  time.Time
	i      int
	gen    uint64 // which request, as w is reused
	gone   atomic.Bool
}

const (
	hangupTick = 100 * time.Millisecond
	maxPeeks   = 1000
)

// peek is one connection to look at, taken under the lock.
type peek struct {
	w    *watched
	gen  uint64
	conn net.Conn
}

func (h *hangups) add(w *watched) {
	w.since = time.Now()
	h.mu.Lock()
	h.gen++
	w.gen = h.gen
	w.i = len(h.reqs)
	h.reqs = append(h.reqs, w)
	if !h.running {
		h.running = true
		go h.run()
	}
	h.mu.Unlock()
}

// remove takes w out; after it returns the watcher no longer touches w's
// connection, which fasthttp reads next.
func (h *hangups) remove(w *watched) {
	h.mu.Lock()
	last := len(h.reqs) - 1
	h.reqs[w.i] = h.reqs[last]
	h.reqs[w.i].i = w.i
	h.reqs[last] = nil
	h.reqs = h.reqs[:last]
	h.mu.Unlock()
}

func (h *hangups) run() {
	t := time.NewTicker(hangupTick)
	defer t.Stop()
	var batch []peek
	for now := range t.C {
		h.mu.Lock()
		if len(h.reqs) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		batch = batch[:0]
		n := len(h.reqs)
		for k := 0; k < n && len(batch) < maxPeeks; k++ {
			w := h.reqs[(h.next+k)%n]
			if now.Sub(w.since) >= hangupTick && !w.gone.Load() {
				batch = append(batch, peek{w, w.gen, w.conn})
			}
		}
		h.next = (h.next + maxPeeks) % n
		h.mu.Unlock()
		for i := range batch {
			if sockpeek.Peek(batch[i].conn) != sockpeek.Closed {
				batch[i].w = nil
			}
		}
		if h.afterPeek != nil {
			h.afterPeek()
		}
		h.mu.Lock()
		for _, p := range batch {
			// Still the same request, still in flight: its fields are
			// set before add and cleared only after remove.
			if p.w != nil && p.w.gen == p.gen && p.w.i < len(h.reqs) && h.reqs[p.w.i] == p.w {
				p.w.gone.Store(true)
				p.w.cancel(nil)
			}
		}
		h.mu.Unlock()
		clear(batch)
	}
}

// cut ends the context of every hot request in flight with cause: at
// shutdown, when the drain has run out of time (proxy.ErrDrainCut), so
// that each is recorded as cut off rather than left without a row.
func (h *hangups) cut(cause error) {
	h.mu.Lock()
	for _, w := range h.reqs {
		w.cancel(cause)
	}
	h.mu.Unlock()
}
