package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/proxy"
)

// storeWait is what a gateway started while its store is unreachable does
// during store_wait, or while the store's migrations keep its start
// waiting (another replica's migration lock, a migration of a store with
// rows, such as an index built CONCURRENTLY on a large request log): it
// listens at once on its addresses (listen and
// admin_listen), answering /healthz 200, so that a liveness probe does not
// kill a process that is only waiting, and /readyz and everything else
// 503, saying what it waits for, since when and the last error. When the
// store answers, Start takes the same listeners over (a bound socket is
// never closed and bound again, which another process could take
// meanwhile, and connections queued in its backlog are served).
type storeWait struct {
	since time.Time
	wait  time.Duration // store_wait
	last  atomic.Pointer[string]
	// migrating is what the store's migrations do, while they keep the
	// start waiting (storeMigrating); nil while the store is awaited.
	migrating atomic.Pointer[postgres.MigrationState]
	// held are the bound sockets by config key (listen, admin_listen),
	// for Start; srvs serve the waiting answers on them until handOver.
	held map[string]*holdListener
	srvs []*http.Server
	addr []string
}

// holdListener is a bound socket that an http.Server can stop serving
// (Close) without closing it: Close ends a blocked Accept with a deadline
// and Accept then says the listener is closed; reopen readies it for the
// next server.
type holdListener struct {
	*net.TCPListener
	mu     sync.Mutex
	closed bool
}

// Accept implements net.Listener.
func (l *holdListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err != nil {
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if closed {
			return nil, net.ErrClosed
		}
	}
	return c, err
}

// Close stops the current server's Accept, keeping the socket bound.
func (l *holdListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.TCPListener.SetDeadline(time.Now())
	}
	return nil
}

// reopen returns the bound socket, ready to accept again.
func (l *holdListener) reopen() net.Listener {
	l.TCPListener.SetDeadline(time.Time{})
	return l.TCPListener
}

// storeWaiting is openStoreWaiting's report before each wait: on the first
// it starts listening; each updates the last error the answers give.
func (s *Server) storeWaiting(err error) {
	msg := redactDSN(sluice.ErrorMessage(err), s.Config.Store)
	s.storeState.failed()
	if s.waiting == nil {
		s.waiting = &storeWait{since: time.Now(), wait: s.Config.StoreWaitTime(), held: map[string]*holdListener{}}
		s.waiting.last.Store(&msg)
		s.listenWhileWaiting("waiting for the store")
		return
	}
	s.waiting.last.Store(&msg)
	s.waiting.migrating.Store(nil) // the try that migrated failed
}

// storeMigrating is openStoreWaiting's report of what the store's
// migrations do. A process that waits for another's migration lock, or
// migrates a schema that has rows (a new one's migrations take
// milliseconds), starts listening as storeWaiting does, so that a liveness
// probe does not kill it mid-migration (which then began again at the
// next start) and /healthz says what it does and for how long; /readyz
// answers 503 until the store is ready.
func (s *Server) storeMigrating(m postgres.MigrationState) {
	s.storeState.migrating(m)
	if s.waiting == nil {
		if m.Locked && m.From == 0 {
			return
		}
		s.waiting = &storeWait{since: time.Now(), wait: s.Config.StoreWaitTime(), held: map[string]*holdListener{}}
		s.waiting.migrating.Store(&m)
		s.listenWhileWaiting("migrating the store")
		return
	}
	s.waiting.migrating.Store(&m)
}

// listenWhileWaiting binds the gateway's addresses and serves the waiting
// answers on them. An address that cannot be bound is left to Start,
// whose error names the key to fix.
func (s *Server) listenWhileWaiting(why string) {
	w := s.waiting
	type addr struct {
		addr, key string
		files     config.TLS
		tlsKey    string
	}
	addrs := []addr{{s.Config.Listen, "listen", s.Config.TLS, "tls"}}
	metricsKey := "listen"
	if s.Config.AdminListen != "" {
		addrs = append(addrs, addr{s.Config.AdminListen, "admin_listen", s.Config.AdminTLSConfig(), "admin_tls"})
		metricsKey = "admin_listen"
	}
	for _, a := range addrs {
		raw, err := net.Listen("tcp", a.addr)
		if err != nil {
			s.logger.Warn("store: cannot listen while waiting for the store; trying again once it answers", "addr", a.addr, "err", err)
			continue
		}
		tcp, ok := raw.(*net.TCPListener)
		if !ok {
			raw.Close()
			continue
		}
		hl := &holdListener{TCPListener: tcp}
		var ln net.Listener = hl
		if a.files.Enabled() {
			cert := &tlsCert{key: a.tlsKey, files: a.files}
			if err := cert.load(); err != nil {
				// Start says so; meanwhile this address is bound
				// and answers nothing.
				w.held[a.key] = hl
				continue
			}
			ln = tls.NewListener(hl, &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"},
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.cert.Load(), nil }})
		}
		w.held[a.key] = hl
		var h http.Handler = http.HandlerFunc(s.serveWaiting)
		if a.key == metricsKey {
			// /metrics where the started gateway serves it: the Go
			// runtime's and the wait's (sluice_store_ready 0), so
			// Prometheus does not mark the target down while it waits.
			mux := http.NewServeMux()
			mux.Handle("/", h)
			mux.Handle("/metrics", s.Recorder.Handler())
			h = mux
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second}
		w.srvs = append(w.srvs, srv)
		w.addr = append(w.addr, scheme(a.files)+tcp.Addr().String())
		go srv.Serve(ln)
	}
	if len(w.addr) > 0 {
		s.logger.Info("store: answering /healthz 200 and /readyz 503 while "+why, "addrs", strings.Join(w.addr, ", "))
	}
}

// storeState is the store's state as /metrics shows it: the wait for it at
// the start, served while the gateway waits (on the address that serves
// /metrics once it started) and after, so an alert can tell a replica that
// waits for its store from one that is down; then, once started, whether
// the store answers now (watchStore).
type storeState struct {
	ready atomic.Bool
	lost  atomic.Bool  // started, and the store's last check failed (watchStore)
	tries atomic.Int64 // the failed tries to reach the store at the start
	since atomic.Int64 // when the wait began, Unix nanoseconds; 0 when not waiting
	// lockSince is when this start began to wait for the migration lock
	// another process holds, Unix nanoseconds; 0 when it does not wait.
	lockSince atomic.Int64
}

// migrating notes what the store's migrations do: waiting for the
// migration lock or not.
func (st *storeState) migrating(m postgres.MigrationState) {
	if m.Locked {
		st.lockSince.Store(0)
	} else {
		st.lockSince.Store(m.Since.UnixNano())
	}
}

// failed counts a failed try at the start, which begins the wait.
func (st *storeState) failed() {
	st.lockSince.Store(0) // the try that waited for the lock failed
	st.tries.Add(1)
	st.since.CompareAndSwap(0, time.Now().UnixNano())
}

// opened ends the wait: the store answered.
func (st *storeState) opened() {
	st.since.Store(0)
	st.lockSince.Store(0)
	st.ready.Store(true)
}

// collectors returns the wait's metrics.
func (st *storeState) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_store_ready",
			Help: "1 while the store answers: the gateway opened it at the start, and its last check (every 2 s) answered with none of the gateway's writes failed since the one before; 0 while it waits for the store at the start (store_wait, serving only /healthz and /metrics; sluice_store_wait_seconds is above 0 then) and while a started gateway's store is lost."},
			func() float64 {
				if st.ready.Load() && !st.lost.Load() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_store_wait_seconds",
			Help: "How long the gateway has waited for its store at the start (store_wait), from the first failed try; 0 when it is not waiting."},
			func() float64 {
				since := st.since.Load()
				if since == 0 || st.ready.Load() {
					return 0
				}
				return time.Since(time.Unix(0, since)).Seconds()
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_store_migration_lock_wait_seconds",
			Help: "How long the starting gateway has waited for the store's migration lock, which another process holds (a replica migrating the schema); 0 when it does not wait. A lock never let go keeps a replica alive and not ready for ever: alert when this stays high (its log names the lock's holder)."},
			func() float64 {
				since := st.lockSince.Load()
				if since == 0 {
					return 0
				}
				return time.Since(time.Unix(0, since)).Seconds()
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_store_wait_tries_total",
			Help: "The tries to reach the store at the start that failed and were waited after (store_wait)."},
			func() float64 { return float64(st.tries.Load()) }),
	}
}

// serveWaiting answers while the store is awaited or migrated: alive,
// not ready.
func (s *Server) serveWaiting(rw http.ResponseWriter, r *http.Request) {
	msg := s.waiting.doing()
	switch {
	case r.URL.Path == "/healthz":
		io.WriteString(rw, "ok: "+msg+"\n")
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		proxy.WriteErrorStatus(rw, http.StatusServiceUnavailable, sluice.CodeUnavailable, "the gateway is "+msg+"; send the request to another replica or try again shortly")
	default:
		http.Error(rw, msg, http.StatusServiceUnavailable)
	}
}

// doing says what the start waits for, and for how long.
func (w *storeWait) doing() string {
	if m := w.migrating.Load(); m != nil {
		return migrationDoing(*m, time.Since(m.Since))
	}
	return fmt.Sprintf("starting: waiting for the store for %s (store_wait %s, then the start fails); the last try: %s",
		time.Since(w.since).Round(time.Second), w.wait, *w.last.Load())
}

// migrationDoing says what a start that migrates the store does: m, for
// took so far.
func migrationDoing(m postgres.MigrationState, took time.Duration) string {
	took = took.Round(time.Second)
	if !m.Locked {
		msg := fmt.Sprintf("starting: waiting for the store's migration lock for %s: another process (a replica of this gateway) "+
			"is migrating the schema; this one then applies what is left, up to migration %04d", took, m.Latest)
		if m.Holder != "" {
			// Not the holder itself: these answers are unauthenticated
			// (the public listener's too), and it names a PostgreSQL
			// session's client address and backend pid.
			msg += "; this replica's log names the session holding the lock (held_by) and how to end it"
		}
		return msg
	}
	msg := fmt.Sprintf("starting: migrating the store: migration %s (from version %d to %d) running for %s", m.Name, m.From, m.Latest, took)
	if m.Outside {
		msg += "; it builds an index CONCURRENTLY, which on a large request log takes minutes (the other replicas keep serving)"
	}
	return msg
}

// endStoreWait stops the waiting answers once the store answered, keeping
// the sockets bound for Start. Requests being answered finish first (each
// takes microseconds); connections kept alive are closed, and their
// clients connect again to the gateway proper.
func (s *Server) endStoreWait() {
	if s.waiting == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, srv := range s.waiting.srvs {
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srv.Close()
		}
	}
	s.waiting.srvs = nil
}

// heldListener returns the socket bound for key while the store was
// awaited, ready to accept, or nil.
func (s *Server) heldListener(key string) net.Listener {
	if s.waiting == nil || s.waiting.held[key] == nil {
		return nil
	}
	hl := s.waiting.held[key]
	delete(s.waiting.held, key)
	return hl.reopen()
}

// closeHeld closes the sockets bound while the store was awaited that no
// Start took: the start failed, or the gateway stopped before it.
func (s *Server) closeHeld() {
	if s.waiting == nil {
		return
	}
	s.endStoreWait()
	for key, hl := range s.waiting.held {
		hl.TCPListener.Close()
		delete(s.waiting.held, key)
	}
}
