package server

import (
	"context"
	"time"
)

// storeCheckInterval is how often a started gateway checks that its store
// answers, for sluice_store_ready.
const storeCheckInterval = 2 * time.Second

// storeCheckTimeout bounds one check, as /readyz's read is bounded.
const storeCheckTimeout = 2 * time.Second

// pinger is a store with a check cheaper than a read of the registry
// (PostgreSQL: a connection from the pool and one round trip).
type pinger interface {
	Ping(ctx context.Context) error
}

// watchStore keeps sluice_store_ready following the store's health once
// the gateway started, until ctx ends: every storeCheckInterval it checks
// that the store answers (PostgreSQL: Ping; SQLite: a read of the
// registry, as /readyz makes), and takes the store for lost when the
// check fails or when any write the gateway makes on its own failed since
// the last check (sluice_store_write_errors_total: on SQLite a full disk
// or a read-only file leaves reads working). The next check that answers
// with no write failed meanwhile takes it back.
func (s *Server) watchStore(ctx context.Context) {
	t := time.NewTicker(storeCheckInterval)
	defer t.Stop()
	seen := s.storeWrites.total()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
		var err error
		if p, ok := s.Store.(pinger); ok {
			err = p.Ping(cctx)
		} else {
			_, err = s.Store.LoadRegistry(cctx)
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		failed := s.storeWrites.total()
		s.storeState.lost.Store(err != nil || failed != seen)
		seen = failed
	}
}
