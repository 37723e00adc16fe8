package server

import (
	"context"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fleet"
)

// loneNote is what GET /admin/v1/replicas says on SQLite.
const loneNote = "a lone gateway: its SQLite store is this process's alone, so it is the only replica (a fleet shares a PostgreSQL store)"

// replicas answers GET /admin/v1/replicas: on a shared store the replicas
// whose beat is within fleet.StaleHorizon, as their beats say, those past
// the drain's live window marked stale, with the store's registry
// revision; on SQLite this process alone.
func (s *Server) replicas(ctx context.Context) (api.ReplicaList, error) {
	if s.drain == nil {
		leader := true // the only rollout controller
		return api.ReplicaList{Note: loneNote, NewestRevision: s.Control.Registry().Revision,
			Replicas: []api.Replica{{Name: "this gateway", Release: sluice.Release, Leader: &leader,
				Revision: s.Control.Registry().Revision, InFlight: sumInFlight(s.Proxy.InFlightVersions()), Draining: s.stopping.Load(), Self: true}}}, nil
	}
	v, err := s.replica.store.Fleet(ctx, fleet.StaleHorizon)
	if err != nil {
		return api.ReplicaList{}, err
	}
	newest, expiry := v.Revision, s.drain.Expiry()
	out := api.ReplicaList{Fleet: true, Answering: s.Replica(), NewestRevision: newest, LiveWindow: expiry.Seconds(), StaleHorizon: fleet.StaleHorizon.Seconds()}
	for _, b := range v.Beats {
		r := api.Replica{Name: b.Replica, Release: b.Release, Revision: b.Revision, Behind: b.Revision < newest,
			Draining: b.Draining, BeatAge: b.Age.Seconds(), Stale: b.Age >= expiry, Self: b.Replica == out.Answering}
		switch known := v.LockHolder != "" || !v.LockHeld; {
		case r.Release != "" && !(r.Stale && known):
			r.Leader = &b.Leader
		case known:
			// An older binary's beat says nothing of leading, and a
			// stale one's what was so at its last beat (a killed
			// leader's lock has passed on since); the lock says who
			// holds it now (by its session's application_name).
			leads := b.Replica == v.LockHolder
			r.Leader = &leads
		}
		if r.Release == "" {
			r.Release = api.UnknownRelease // an older binary's beat
		}
		r.InFlight = sumInFlight(b.InFlight)
		out.Replicas = append(out.Replicas, r)
	}
	return out, nil
}

// sumInFlight returns the requests in flight of every version together
// (mirrored ones included, as a beat counts them).
func sumInFlight(byVersion map[string]int64) int64 {
	var n int64
	for _, c := range byVersion {
		n += c
	}
	return n
}
