package server

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// hangups notices clients that hang up while their hot request waits for
// the backend (a non-streamed answer can take a minute), so the proxy stops
// the backend's work as it does behind net/http, whose server reads ahead
// on every connection for that. Here one goroutine looks, every 100 ms and
// only while hot requests are in flight, at the connections of requests
// older than 100 ms with a non-blocking peek: end of stream or an error
// means the client is gone. Quick requests cost a lock and two slice
// operations.
type hangups struct {
	mu      sync.Mutex
	reqs    []*watched
	running bool
}

// watched is one hot request in flight.
type watched struct {
	conn   net.Conn
	cancel context.CancelFunc
	since  time.Time
	i      int
	gone   atomic.Bool
}

const hangupTick = 100 * time.Millisecond

func (h *hangups) add(w *watched) {
	w.since = time.Now()
	h.mu.Lock()
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
	for now := range t.C {
		h.mu.Lock()
		if len(h.reqs) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		for _, w := range h.reqs {
			if now.Sub(w.since) >= hangupTick && !w.gone.Load() && peerGone(w.conn) {
				w.gone.Store(true)
				w.cancel()
			}
		}
		h.mu.Unlock()
	}
}
