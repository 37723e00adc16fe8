package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"

	"github.com/sluicehq/sluice/postgres"
)

// ReconcileInterval is how often a replica re-reads the registry and the
// tokens from a shared store even when no notice came, as a safety net for
// a missed one.
const ReconcileInterval = 2 * time.Second

// replica is what a gateway on a shared store (PostgreSQL) needs to act as
// one of several: a way to hear of the others' commits, and the election
// of the one that runs the rollout controller. It is nil on a store that
// only one process uses (SQLite).
type replica struct {
	store  *postgres.Store
	leader *postgres.Leader
	kick   chan struct{} // a reload is wanted; coalesced
	// onLeadChange, if set, is called as this replica becomes the leader
	// or stops being one (the beat says which); set before the election
	// starts.
	onLeadChange func()
}

// newReplica returns the replica machinery for st, or nil when st is not
// shared between processes.
func newReplica(st sluice.Store, logger *slog.Logger) *replica {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil
	}
	r := &replica{store: pg, kick: make(chan struct{}, 1)}
	// A new leader reloads first, so it continues from what the previous
	// one committed, not from what this replica last heard.
	r.leader = pg.NewLeader(postgres.LeaderOptions{Logger: logger, OnChange: func(leading bool) {
		if leading {
			r.reload()
		}
		if r.onLeadChange != nil {
			r.onLeadChange()
		}
	}})
	return r
}

// leading returns the rollout controller's Leader: nil (this process is
// the only controller) without a shared store.
func (r *replica) leading() interface{ Leading() bool } {
	if r == nil {
		return nil
	}
	return r.leader
}

// reload asks for a reload without waiting for it.
func (r *replica) reload() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// startReplica starts, on a shared store, the listener for other replicas'
// commits, the periodic reconcile and the leader election; they stop with
// ctx, before Shutdown closes the store. It does nothing on SQLite.
func (s *Server) startReplica(ctx context.Context) {
	r := s.replica
	if r == nil {
		return
	}
	s.Recorder.Registry().MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_replica_leader", Help: "1 when this replica runs the rollout controller, else 0."}, func() float64 {
			if r.leader.Leading() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_registry_revision", Help: "The registry revision this replica routes by."}, func() float64 {
			return float64(s.Control.Registry().Revision)
		}),
	)
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		r.store.Watch(ctx, func(rev int64) {
			// Commits this replica made are published already.
			if rev == 0 || rev > s.Control.Registry().Revision {
				r.reload()
			}
		})
	}()
	go func() { defer s.wg.Done(); r.leader.Run(ctx) }()
	go func() { defer s.wg.Done(); s.reconcile(ctx) }()
}

// reconcile reloads the registry, the tokens and the client keys whenever a reload is asked
// for and every ReconcileInterval, until ctx ends. While the store is down
// the replica keeps routing by the registry it has (the data plane never
// reads the store), and the reload that works first after it returns
// catches up.
func (s *Server) reconcile(ctx context.Context) {
	t := time.NewTicker(ReconcileInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.replica.kick:
		case <-t.C:
		}
		// Bounded: a silent connection must not stop the catch-up (and hold
		// the control service's lock) for good.
		rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
		err := s.Control.Reload(rctx)
		if err == nil {
			err = s.Auth.Reload(rctx)
		}
		if err == nil {
			err = s.ReloadStoredKeys(rctx)
		}
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			s.logger.Warn("cannot reload from the store; serving the last routing snapshot until it returns", "revision", s.Control.Registry().Revision, "err", err)
		case err == nil && failing:
			s.logger.Info("the store is back; routing is up to date", "revision", s.Control.Registry().Revision)
		}
		failing = err != nil
	}
}

// ready answers /readyz. A gateway is ready once it has a registry to route
// by; on SQLite the store must also answer, as before. On a shared store a
// replica stays ready while the store is down (saying so in the body):
// its data plane never reads the store, and were every replica to turn
// unready at once because their one database went away, the load balancer
// would drop all of them and turn a control-plane outage into a full one.
//
// The answer does not say why the store failed: /readyz needs no token
// and, without admin_listen, is served on the data plane's address, and
// the store's error names its file or its PostgreSQL host, user and
// database. The log says why (on a shared store the replica's watch logs
// the outage as it begins).
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		// Shutting down: the data plane takes no new connection, and its
		// requests in flight drain. A load balancer probing this (on
		// admin_listen, still served meanwhile) must send no more here.
		http.Error(w, "shutting down: draining the requests in flight; send new requests to another replica", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	_, err := s.Store.LoadRegistry(ctx)
	switch {
	case err == nil:
		io.WriteString(w, "ready\n")
	case s.replica != nil:
		fmt.Fprintf(w, "ready: serving registry revision %d; the store is unavailable, so admin changes fail until it returns (the gateway's log says why)\n", s.Control.Registry().Revision)
	default:
		s.logger.Warn("not ready: the store is unavailable", "err", err)
		http.Error(w, "store unavailable: the gateway's log says why", http.StatusServiceUnavailable)
	}
}

// reloadTimeout bounds one catch-up reload from the store.
const reloadTimeout = 5 * time.Second
