package api

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// UnknownRelease is what a replica's release reads as when its beat has
// none: it runs a binary older than the field (postgres 0034).
const UnknownRelease = "unknown"

// ReplicaList is the answer to GET /admin/v1/replicas: the replicas that
// serve, as their heartbeats on the shared store last said, or on a lone
// gateway (SQLite) the one process that answered.
type ReplicaList struct {
	// Fleet is true on a shared store (PostgreSQL): Replicas are those
	// whose beat is younger than StaleHorizon, the older than LiveWindow
	// marked Stale. False on a lone gateway, whose one row is itself.
	Fleet bool `json:"fleet"`
	// Note says, on a lone gateway, that it is the only replica.
	Note string `json:"note,omitempty"`
	// Answering names the replica that answered ("" on a lone gateway).
	Answering string `json:"answering,omitempty"`
	// NewestRevision is the registry revision the store holds: a replica
	// routing by an older one is behind.
	NewestRevision int64 `json:"newest_revision"`
	// LiveWindow is how young a beat must be for its replica to count,
	// in seconds (0 on a lone gateway).
	LiveWindow float64 `json:"live_window_seconds,omitempty"`
	// StaleHorizon is how long a replica whose beats stopped stays listed,
	// Stale, in seconds (0 on a lone gateway): one that stopped cleanly
	// deletes its beat and leaves at once.
	StaleHorizon float64 `json:"stale_horizon_seconds,omitempty"`
	// Replicas are the live replicas and the stale ones, by name.
	Replicas []Replica `json:"replicas"`
	// Releases counts the live replicas on each release, the fewest first.
	Releases []ReleaseCount `json:"releases"`
	// Warnings says what an operator should look at: more than one
	// release in the fleet (a rolling upgrade under way or stalled), no
	// replica leading. Empty ([]) when none.
	Warnings []string `json:"warnings"`
}

// Replica is one row of ReplicaList.
type Replica struct {
	// Name names the replica (its audit entries and request log rows name
	// it alike).
	Name string `json:"name"`
	// Release is the release of its binary, as `sluice version` prints
	// it; UnknownRelease for a binary older than the field.
	Release string `json:"release"`
	// Leader says it runs the rollout controller; null when not known
	// (an older binary's beat).
	Leader *bool `json:"leader"`
	// Revision is the registry revision it routes by, and Behind says it
	// is older than ReplicaList.NewestRevision (a replica catches up
	// within a second or two of a change; one behind for longer missed
	// it, or cannot read the store).
	Revision int64 `json:"revision"`
	Behind   bool  `json:"behind"`
	// InFlight is its requests in flight, every version together.
	InFlight int64 `json:"in_flight"`
	// Draining says it is stopping: it takes no new requests and finishes
	// those in flight.
	Draining bool `json:"draining"`
	// BeatAge is how long ago its last beat was written, in seconds, by
	// the store's clock (0 on a lone gateway, which answers for itself).
	BeatAge float64 `json:"beat_age_seconds"`
	// Stale says its last beat is older than the live window: it stalled,
	// lost the store or was killed. The fleet's drains no longer wait for
	// it nor its limits count it, but it may still serve, by the routing
	// of Revision. Its other fields are what its last beat said, but
	// Leader, read from the leader lock when it is free or its holder
	// names a replica.
	Stale bool `json:"stale"`
	// Self marks the replica that answered.
	Self bool `json:"self,omitempty"`
}

// ReleaseCount is how many live replicas run one release.
type ReleaseCount struct {
	Release  string `json:"release"`
	Replicas int    `json:"replicas"`
}

// Replicas returns the live replicas; nil makes GET /admin/v1/replicas
// answer 404. An error when the store that holds the beats cannot be read.
type Replicas func(ctx context.Context) (ReplicaList, error)

// NoReplicasMessage starts the 404 of a server that lists no replicas (one
// that serves no traffic).
const NoReplicasMessage = "this server knows of no replicas"

// NoEndpointMessage starts the 404 of an admin path a gateway does not
// have, in every release: the CLI tells by it a gateway older than an
// endpoint from any other 404 (a data plane whose admin API listens
// apart, a server that lists no replicas).
const NoEndpointMessage = "there is no admin endpoint"

// replicasTimeout bounds GET /admin/v1/replicas's read of the store.
const replicasTimeout = 5 * time.Second

// listReplicas answers the fleet's live replicas, with the warnings of
// FleetWarnings.
func (s *Server) listReplicas(w http.ResponseWriter, r *http.Request) error {
	if s.replicas == nil {
		return sluice.Errorf(sluice.CodeNotFound, "%s: ask a sluice server that serves traffic (sluice serve)", NoReplicasMessage)
	}
	ctx, cancel := context.WithTimeout(r.Context(), replicasTimeout)
	defer cancel()
	out, err := s.replicas(ctx)
	if err != nil && sluice.ErrorCode(err) == sluice.CodeInternal && ctx.Err() != nil && r.Context().Err() == nil {
		// A store that does not answer is down as surely as one that
		// refuses: 503, to ask again.
		return sluice.Errorf(sluice.CodeUnavailable, "the store did not answer within %v: %v; the replicas keep serving meanwhile, so ask again once it is back", replicasTimeout, err)
	}
	if err != nil {
		return err
	}
	out.Releases, out.Warnings = Releases(live(out.Replicas)), FleetWarnings(out)
	if out.Replicas == nil {
		out.Replicas = []Replica{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// Releases counts rs by release, the fewest replicas first (an upgrade's
// new release while it starts, or the last replicas left behind), then by
// release.
func Releases(rs []Replica) []ReleaseCount {
	n := map[string]int{}
	for _, r := range rs {
		n[r.Release]++
	}
	out := make([]ReleaseCount, 0, len(n))
	for rel, c := range n {
		out = append(out, ReleaseCount{Release: rel, Replicas: c})
	}
	slices.SortFunc(out, func(a, b ReleaseCount) int {
		return cmp.Or(cmp.Compare(a.Replicas, b.Replicas), cmp.Compare(a.Release, b.Release))
	})
	return out
}

// live returns the replicas of rs that are not stale.
func live(rs []Replica) []Replica {
	var out []Replica
	for _, r := range rs {
		if !r.Stale {
			out = append(out, r)
		}
	}
	return out
}

// FleetWarnings returns what l's operator should look at: each stale
// replica (its beats stopped: it may still serve by old routing), more
// than one release among the live ones ("2 releases: v0.9.1 on 1
// replica, v0.10.0 on 2"), and on a fleet no live replica saying it leads
// while every one says whether it does (no rollout advances then), or
// more than one saying it leads (a hand-over, until the one that stepped
// down beats again).
func FleetWarnings(l ReplicaList) []string {
	out := []string{}
	for _, r := range l.Replicas {
		if r.Stale {
			out = append(out, fmt.Sprintf("replica %s has written no beat for %.0f s (the live window is %g s): it stalled, lost the store, or was killed without stopping; "+
				"rollback drains no longer wait for it, yet if it still serves it routes by revision %d. Read its log, or its pod's state (kubectl describe pod); "+
				"it is listed until its last beat is %s old", r.Name, r.BeatAge, l.LiveWindow, r.Revision, time.Duration(l.StaleHorizon*float64(time.Second))))
		}
	}
	var staleLeaders []string
	for _, r := range l.Replicas {
		if r.Stale && r.Leader != nil && *r.Leader {
			staleLeaders = append(staleLeaders, r.Name)
		}
	}
	l.Replicas = live(l.Replicas)
	rels := Releases(l.Replicas)
	if len(rels) > 1 {
		parts := make([]string, len(rels))
		for i, rc := range rels {
			parts[i] = fmt.Sprintf("%s on %d", rc.Release, rc.Replicas)
			if i == 0 {
				parts[i] += plural(rc.Replicas, " replica", " replicas")
			}
		}
		out = append(out, fmt.Sprintf("%d releases: %s", len(rels), strings.Join(parts, ", ")))
	}
	if l.Fleet && len(l.Replicas) > 0 {
		known, leading := true, false
		for _, r := range l.Replicas {
			known = known && r.Leader != nil
			leading = leading || r.Leader != nil && *r.Leader
		}
		switch {
		case known && !leading && len(staleLeaders) > 0:
			// A stalled leader's session keeps the lock until
			// PostgreSQL ends it: the replicas' tries fail until then.
			out = append(out, fmt.Sprintf("no live replica leads: the stale replica %s holds the leader lock (or did at its last beat), so no rollout advances until PostgreSQL ends its idle session "+
				"(within seconds on PostgreSQL 14 or later) or it is stopped (kubectl delete pod); then another replica takes the lock", strings.Join(staleLeaders, ", ")))
		case known && !leading:
			out = append(out, "no live replica leads: no rollout advances until one takes the leader lock (each replica tries every second; a replica's log says \"leader:\" when it does)")
		}
		var leaders []string
		for _, r := range l.Replicas {
			if r.Leader != nil && *r.Leader {
				leaders = append(leaders, r.Name)
			}
		}
		if len(leaders) > 1 {
			// The lock has one holder: a replica that stepped down (or
			// lost its session) says so only at its next beat.
			out = append(out, fmt.Sprintf("%d replicas say they lead (%s): a hand-over under way, and the one that stepped down says so at its next beat (within a second or two); "+
				"if it lasts, read each one's log (\"leader:\")", len(leaders), strings.Join(leaders, ", ")))
		}
	}
	return out
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
