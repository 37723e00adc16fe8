package fakellm

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a fake OpenAI-compatible model server. Its behaviour can be
// changed while it serves, and its faults (unhealthy, hanging, killed) are
// switched by tests. All methods are safe for concurrent use.
type Server struct {
	// state is the configuration in force, swapped whole by SetConfig and
	// SetBehavior so the request path never takes a lock.
	state atomic.Pointer[serverState]
	// run is the current run; its done channel closes on Close and Kill.
	run     atomic.Pointer[runState]
	healthy atomic.Bool
	// hang, when non-nil, holds new requests until it is closed.
	hang atomic.Pointer[chan struct{}]
	seq  atomic.Uint64
	// total counts model requests; counters holds one *atomic.Int64 per
	// category seen, "" for requests without one.
	total    atomic.Int64
	counters sync.Map
	handler  http.Handler
	// idPrefix makes this server's response ids its own; stored keeps
	// those a later previous_response_id may name.
	idPrefix string
	stored   storedIDs

	mu    sync.Mutex // guards the fields below and serialises config writes
	srv   *http.Server
	ln    net.Listener
	conns map[net.Conn]struct{}
}

// serverState is an immutable compiled configuration.
type serverState struct {
	cfg Config
	// counters caches the counter of every configured category and of "",
	// so counting a request allocates nothing.
	counters map[string]*atomic.Int64
}

// runState is one run of the server, between Start (or New) and Close/Kill.
type runState struct {
	done chan struct{}
	once sync.Once
	// halted mirrors done for checks too frequent for a select.
	halted atomic.Bool
}

func newRun() *runState { return &runState{done: make(chan struct{})} }

func (r *runState) stop() {
	r.once.Do(func() {
		r.halted.Store(true)
		close(r.done)
	})
}

func (r *runState) stopped() bool { return r.halted.Load() }

// New returns a healthy, non-hanging Server for cfg, with WithDefaults
// applied (model "fake-model", category header X-Request-Category, 64
// embedding dimensions). It does not validate cfg; LoadConfig does. The
// server serves nothing until Start, or use Handler with a server of your
// own.
func New(cfg Config) *Server {
	s := &Server{conns: make(map[net.Conn]struct{}), idPrefix: newIDPrefix()}
	s.healthy.Store(true)
	s.run.Store(newRun())
	s.handler = http.HandlerFunc(s.serveHTTP)
	s.SetConfig(cfg)
	return s
}

// Handler returns the server's HTTP handler, for mounting in httptest or
// another mux. Kill and Close still abort its in-flight requests, but only a
// server started with Start has its listener and connections closed.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (for example "127.0.0.1:0") and serves in the
// background. A server stopped by Close or Kill may be started again, on the
// same address to simulate a restart.
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("fakellm: server already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fakellm: listen on %s: %w", addr, err)
	}
	if s.run.Load().stopped() {
		s.run.Store(newRun())
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnState:         s.trackConn,
	}
	s.srv, s.ln = srv, ln
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// trackConn remembers open connections so Kill can reset them.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// Addr returns the address the server listens on, or "" when not started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL returns the server's base URL, such as "http://127.0.0.1:41234",
// without the /v1 suffix; "" when not started.
func (s *Server) URL() string {
	if a := s.Addr(); a != "" {
		return "http://" + a
	}
	return ""
}

// Close stops the server: the listener and every connection are closed, and
// in-flight requests, hung ones included, are aborted. It is idempotent.
func (s *Server) Close() { s.stop(false) }

// Kill stops the server abruptly, as a crashed process would: like Close,
// but connections are reset (TCP RST) rather than closed, so a client in the
// middle of a stream sees a broken response.
func (s *Server) Kill() { s.stop(true) }

func (s *Server) stop(reset bool) {
	s.mu.Lock()
	srv := s.srv
	s.srv, s.ln = nil, nil
	if reset {
		for c := range s.conns {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
		}
	}
	s.mu.Unlock()
	// Close the connections before waking the handlers, so no handler gets
	// to finish a response cleanly.
	if srv != nil {
		_ = srv.Close()
	}
	s.run.Load().stop()
}

// SetHealthy sets what GET /health answers: 200 "ok" when true, 503
// "unhealthy" when false. Model endpoints are not affected.
func (s *Server) SetHealthy(ok bool) { s.healthy.Store(ok) }

// SetHang makes new model requests block, as a wedged backend does, until
// the client gives up, the server is closed, or SetHang(false) releases
// them (they then proceed normally). Health checks still answer.
func (s *Server) SetHang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.hang.Load()
	switch {
	case on && cur == nil:
		ch := make(chan struct{})
		s.hang.Store(&ch)
	case !on && cur != nil:
		s.hang.Store(nil)
		close(*cur)
	}
}

// Config returns the configuration in force, defaults applied.
func (s *Server) Config() Config { return s.state.Load().cfg }

// SetConfig replaces the whole configuration, defaults applied, for requests
// that start from now on. It does not validate cfg.
func (s *Server) SetConfig(cfg Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setConfigLocked(cfg.WithDefaults())
}

// SetBehavior replaces the behaviour of one category ("" for the default)
// for requests that start from now on.
func (s *Server) SetBehavior(category string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cfg := s.state.Load().cfg
	if category == "" {
		cfg.Default = b
	} else {
		cats := make(map[string]Behavior, len(cfg.Categories)+1)
		for k, v := range cfg.Categories {
			cats[k] = v
		}
		cats[category] = b
		cfg.Categories = cats
	}
	s.setConfigLocked(cfg)
}

func (s *Server) setConfigLocked(cfg Config) {
	st := &serverState{cfg: cfg, counters: make(map[string]*atomic.Int64, len(cfg.Categories)+1)}
	st.counters[""] = s.counter("")
	for name := range cfg.Categories {
		st.counters[name] = s.counter(name)
	}
	s.state.Store(st)
}

// counter returns the request counter of a category, creating it.
func (s *Server) counter(category string) *atomic.Int64 {
	if c, ok := s.counters.Load(category); ok {
		return c.(*atomic.Int64)
	}
	c, _ := s.counters.LoadOrStore(category, new(atomic.Int64))
	return c.(*atomic.Int64)
}

// count records one model request.
func (s *Server) count(st *serverState, category string) {
	s.total.Add(1)
	if c, ok := st.counters[category]; ok {
		c.Add(1)
		return
	}
	s.counter(category).Add(1)
}

// Requests returns how many model requests (chat, completions, responses, embeddings)
// the server has received, failed and aborted ones included.
func (s *Server) Requests() int64 { return s.total.Load() }

// RequestsByCategory returns the number of model requests received per
// category; requests without a category are counted under "".
func (s *Server) RequestsByCategory() map[string]int64 {
	out := make(map[string]int64)
	s.counters.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n > 0 {
			out[k.(string)] = n
		}
		return true
	})
	return out
}
