package server

import (
	"context"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/proxy"
)

// Shadow answer pairs: the proxy keeps the newest in this process's memory;
// on a shared store (unless shadow.store_pairs is false) each replica also
// writes its own to the store (fleet.Pairs), and the admin API and the
// dashboard read the fleet's from there, so every replica lists the same
// pairs, pages through them by the same seq, and a restart loses none.

// newFleetPairs returns the writer of this replica's pairs to the shared
// store, or nil on SQLite or when shadow.store_pairs is false. It is
// called once, from New, after windows (which names the replica) and
// before the proxy, which is given its Add.
func (s *Server) newFleetPairs() *fleet.Pairs {
	if s.fleet == nil || (s.Config.Shadow.StorePairs != nil && !*s.Config.Shadow.StorePairs) {
		return nil
	}
	var kept int // 0: fleet's default, the proxy's too
	if n := s.Config.Shadow.PairsKept; n != nil {
		kept = *n
	}
	ps := fleet.NewPairs(fleet.PairsOptions{Store: s.replica.store, Replica: s.fleet.Replica(), Kept: kept, Logger: s.logger, WriteFailed: s.storeWrites.failed(whatPairs)})
	s.Recorder.Registry().MustRegister(ps)
	return ps
}

// shadowPairs is what the admin API reads the pairs through: the fleet's
// in the store when stored is set, else the proxy's memory.
type shadowPairs struct {
	proxy  *proxy.Proxy
	stored *fleet.Pairs
}

func (sp shadowPairs) FindShadowPairs(ctx context.Context, q sluice.ShadowPairQuery) ([]sluice.ShadowPair, bool, error) {
	if sp.stored == nil {
		pairs, more := sp.proxy.FindShadowPairs(q)
		return pairs, more, nil
	}
	return sp.stored.Find(ctx, q)
}

func (sp shadowPairs) Shadow(model string) (string, float64) { return sp.proxy.Shadow(model) }

func (sp shadowPairs) ShadowPairsKept() int {
	if sp.stored == nil {
		return sp.proxy.ShadowPairsKept()
	}
	return sp.stored.Kept()
}

func (sp shadowPairs) FleetPairs() bool { return sp.stored != nil }

// dashboardPairsTimeout bounds the dashboard's read of the fleet's pairs.
const dashboardPairsTimeout = 5 * time.Second

// recent returns up to limit of model's newest pairs for the dashboard;
// nil (none shown) when the store cannot be read, which is logged.
func (s *Server) recentPairs(sp shadowPairs) func(model string, limit int) []sluice.ShadowPair {
	if sp.stored == nil {
		return sp.proxy.ShadowPairs
	}
	return func(model string, limit int) []sluice.ShadowPair {
		ctx, cancel := context.WithTimeout(context.Background(), dashboardPairsTimeout)
		defer cancel()
		pairs, _, err := sp.stored.Find(ctx, sluice.ShadowPairQuery{Model: model, Limit: limit})
		if err != nil {
			s.logger.Warn("the dashboard cannot read the fleet's shadow pairs from the store", "model", model, "err", err)
			return nil
		}
		return pairs
	}
}

// flushPairs writes, at shutdown, the pairs this replica made since the
// last flush, once the shadow workers have stopped; ctx bounds it.
func (s *Server) flushPairs(ctx context.Context) {
	if s.pairs.stored == nil {
		return
	}
	if err := s.pairs.stored.Flush(ctx); err != nil {
		s.logger.Warn("the last shadow pairs of this replica are not written to the shared store", "pending", s.pairs.stored.Pending(), "err", err)
	}
}
