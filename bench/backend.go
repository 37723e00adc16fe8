package bench

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice/fakellm"
)

// streamHeader carries a stream's id from the load generator, through the
// gateway, to the backend, which stamps each event it writes with the time,
// so the harness can tell how long a gateway held each chunk.
const streamHeader = "X-Bench-Stream"

// stampEvents is how many writes of a stream are stamped.
const stampEvents = 128

// stampSlots is how many streams' stamps are kept at once: far more than
// the streams in flight, so a slot is not reused before its stream ends.
const stampSlots = 8192

// stamps holds the backend's write times of recent streams, by stream id
// modulo stampSlots.
type stamps struct {
	seq   atomic.Uint64
	slots []stampSlot
}

type stampSlot struct {
	id atomic.Uint64
	n  atomic.Int32
	t  [stampEvents]atomic.Int64
}

func newStamps() *stamps { return &stamps{slots: make([]stampSlot, stampSlots)} }

// next returns a new stream id (never 0).
func (s *stamps) next() uint64 { return s.seq.Add(1) }

// delays adds, for each event time at the client, its delay after the
// backend's write of the same index to h; it returns how many events had no
// stamp.
func (s *stamps) delays(id uint64, events []int64, h *hist) (lost int) {
	sl := &s.slots[id%stampSlots]
	if sl.id.Load() != id {
		return len(events)
	}
	n := int(sl.n.Load())
	for k, at := range events {
		if k >= n || k >= stampEvents {
			lost++
			continue
		}
		h.add(at - sl.t[k].Load())
	}
	return lost
}

// wrap stamps the writes of requests that carry streamHeader.
func (s *stamps) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(streamHeader)
		if v == "" {
			h.ServeHTTP(w, r)
			return
		}
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil || id == 0 {
			h.ServeHTTP(w, r)
			return
		}
		sl := &s.slots[id%stampSlots]
		sl.n.Store(0)
		sl.id.Store(id)
		fl, _ := w.(http.Flusher)
		h.ServeHTTP(&stampWriter{ResponseWriter: w, fl: fl, sl: sl}, r)
	})
}

// stampWriter stamps each Write: fakellm writes one event per Write (the
// last Write carries the finish chunk, the usage chunk and [DONE]).
type stampWriter struct {
	http.ResponseWriter
	fl http.Flusher
	sl *stampSlot
}

func (w *stampWriter) Write(b []byte) (int, error) {
	if k := w.sl.n.Load(); k < stampEvents {
		w.sl.t[k].Store(nanotime())
		w.sl.n.Store(k + 1)
	}
	return w.ResponseWriter.Write(b)
}

func (w *stampWriter) Flush() {
	if w.fl != nil {
		w.fl.Flush()
	}
}

// backend is a simulated model server in the harness's process: a fakellm
// handler behind a tuned net/http server, with stream stamping.
type backend struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

// startBackend serves a fakellm answering instantly with short answers
// (8 tokens; X-Fake-Tokens asks for more).
func startBackend(name string, st *stamps) (*backend, error) {
	fake := fakellm.New(fakellm.Config{Model: name, Seed: 1})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: st.wrap(fake.Handler()), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	b := &backend{name: name, srv: srv, ln: ln}
	go srv.Serve(ln)
	return b, nil
}

func (b *backend) addr() string { return b.ln.Addr().String() }

func (b *backend) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
	b.srv.Close()
}
