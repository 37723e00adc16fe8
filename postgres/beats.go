package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReplicaBeat is one row of replica_beats: what a replica last said of the
// routing it serves by and of its requests in flight.
type ReplicaBeat struct {
	// Replica names the process.
	Replica string
	// Revision is the registry revision its routing was built from when it
	// counted InFlight: the requests routed by an older table are counted.
	Revision int64
	// InFlight holds its requests in flight per version id ("chat:v1.2.0"),
	// the versions with none left out.
	InFlight map[string]int64
	// Draining says the replica is stopping: it takes no new requests,
	// only finishes those in flight (counted in InFlight).
	Draining bool
	// Demand is the replica's demand per client key with a shared limit
	// (requests a second arriving for the key there, smoothed), the keys
	// with none left out, at most the busiest fleet.MaxDemandKeys. A beat
	// written without it says none (an empty map); one an older binary
	// wrote reads as nil: that replica's demand is not known.
	Demand map[string]float64
	// DemandRest is what a key left out of a capped Demand counts at: the
	// least demand Demand holds (at least what any key left out had); 0
	// when none was left out.
	DemandRest float64
	// DemandEpoch is the beat generation Demand was measured at (the
	// clock's Interval boundary: fleet.Drain), so that every replica
	// weighs the same one; 0 in an older binary's beat.
	DemandEpoch int64
	// Release is the release of the binary the replica runs, as `sluice
	// version` prints it (sluice.Release); "" in an older binary's beat,
	// which has none: not known.
	Release string
	// Leader says the replica runs the rollout controller (holds the
	// leader lock) as of its beat; not known (false) when Release is "".
	Leader bool
	// Age is how long ago the row was written, by the server's clock; set
	// by ReplicaBeats.
	Age time.Duration
}

// PutReplicaBeat writes (or replaces) b's row, stamped with the server's
// clock. Writing it again is harmless, so the store may retry it.
func (s *Store) PutReplicaBeat(ctx context.Context, b ReplicaBeat) error {
	if b.InFlight == nil {
		b.InFlight = map[string]int64{}
	}
	counts, err := json.Marshal(b.InFlight)
	if err != nil {
		return err
	}
	if b.Demand == nil {
		b.Demand = map[string]float64{}
	}
	demand, err := json.Marshal(b.Demand)
	if err != nil {
		return err
	}
	var release *string // "" is written as NULL: not known
	if b.Release != "" {
		release = &b.Release
	}
	const sql = `INSERT INTO replica_beats (replica, revision, inflight, draining, demand, demand_rest, demand_epoch, release, leader, beat_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8::text IS NULL THEN NULL ELSE $9::boolean END, now())
		ON CONFLICT (replica) DO UPDATE SET revision = EXCLUDED.revision, inflight = EXCLUDED.inflight, draining = EXCLUDED.draining,
			demand = EXCLUDED.demand, demand_rest = EXCLUDED.demand_rest, demand_epoch = EXCLUDED.demand_epoch,
			release = EXCLUDED.release, leader = EXCLUDED.leader, beat_at = EXCLUDED.beat_at`
	return s.write(ctx, "write replica beat", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, b.Replica, b.Revision, counts, b.Draining, demand, b.DemandRest, b.DemandEpoch, release, b.Leader)
		return err
	})
}

// ReplicaBeats returns the rows of the replicas other than except written
// less than maxAge ago (by the server's clock): those of replicas that died
// or lost the store are left out.
func (s *Store) ReplicaBeats(ctx context.Context, except string, maxAge time.Duration) ([]ReplicaBeat, error) {
	var out []ReplicaBeat
	err := s.read(ctx, "read replica beats", func(tx pgx.Tx) error {
		var err error
		out, err = liveBeats(ctx, tx, except, maxAge)
		return err
	})
	return out, err
}

// FleetView is what `sluice replicas` shows of the store, read at one
// moment.
type FleetView struct {
	// Beats are the rows written less than the asked age ago, by name.
	Beats []ReplicaBeat
	// Revision is the registry revision the store holds (the newest any
	// replica can route by).
	Revision int64
	// LockHeld says a session holds the rollout controller's leader lock
	// (pg_locks), and LockHolder names the replica whose session it is,
	// read from its application_name ("sluice NAME", as Store.SetReplica
	// names a replica's connections): "" when none holds it, or when the
	// holder's name says no replica (a DSN that names its own
	// application_name, a binary older than the naming). An older
	// binary's beat does not say whether it leads; the lock does.
	LockHeld   bool
	LockHolder string
}

// Fleet returns the rows of every replica written less than maxAge ago
// (by the server's clock), the registry revision the store holds and who
// holds the leader lock, read at one moment: what `sluice replicas`
// shows.
func (s *Store) Fleet(ctx context.Context, maxAge time.Duration) (FleetView, error) {
	var v FleetView
	err := s.read(ctx, "read the fleet's replicas", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, "SELECT revision FROM meta WHERE id = 1").Scan(&v.Revision); err != nil {
			return fmt.Errorf("read revision: %w", err)
		}
		var err error
		if v.Beats, err = liveBeats(ctx, tx, "", maxAge); err != nil {
			return err
		}
		var app *string
		err = tx.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
				AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
			LIMIT 1`, s.leaderKey("")).Scan(&app)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil
		case err != nil:
			return fmt.Errorf("read the leader lock's holder: %w", err)
		}
		v.LockHeld = true
		if app != nil {
			v.LockHolder, _ = strings.CutPrefix(*app, "sluice ")
			if v.LockHolder == *app {
				v.LockHolder = "" // not a replica's name
			}
		}
		return nil
	})
	return v, err
}

// liveBeats reads the rows of the replicas other than except written less
// than maxAge ago, by name.
func liveBeats(ctx context.Context, tx pgx.Tx, except string, maxAge time.Duration) ([]ReplicaBeat, error) {
	rows, err := tx.Query(ctx, `SELECT replica, revision, inflight, draining, demand, demand_rest, demand_epoch, release, leader, extract(epoch FROM now() - beat_at)
		FROM replica_beats WHERE replica <> $1 AND beat_at > now() - $2::bigint * interval '1 microsecond'
		ORDER BY replica`, except, maxAge.Microseconds())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReplicaBeat
	for rows.Next() {
		var b ReplicaBeat
		var counts, demand []byte
		var release *string
		var leader *bool
		var age float64
		if err := rows.Scan(&b.Replica, &b.Revision, &counts, &b.Draining, &demand, &b.DemandRest, &b.DemandEpoch, &release, &leader, &age); err != nil {
			return nil, err
		}
		if release != nil { // NULL: an older binary's beat
			b.Release = *release
		}
		if leader != nil {
			b.Leader = *leader
		}
		if err := json.Unmarshal(counts, &b.InFlight); err != nil {
			return nil, err
		}
		if demand != nil {
			// NULL (an older binary's beat) stays nil: not known.
			if err := json.Unmarshal(demand, &b.Demand); err != nil {
				return nil, err
			}
		}
		b.Age = time.Duration(age * float64(time.Second))
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteReplicaBeat deletes replica's row, as the replica stops.
func (s *Store) DeleteReplicaBeat(ctx context.Context, replica string) error {
	return s.write(ctx, "delete replica beat", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM replica_beats WHERE replica = $1", replica)
		return err
	})
}
