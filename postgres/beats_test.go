package postgres_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestStore_Fleet: the beats of the live replicas come back with the
// release and leadership each wrote, by name, with the registry revision
// the store holds; a beat an older binary wrote (no release, no leader:
// NULL) reads as not known (""), and one past the live window is left
// out.
func TestStore_Fleet(t *testing.T) {
	dsn := pgtest.Schema(t)
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	for _, b := range []postgres.ReplicaBeat{
		{Replica: "gw-b", Revision: 3, InFlight: map[string]int64{"chat:v1": 2, "chat:v2": 1}, Release: "v0.10.0", Leader: true},
		{Replica: "gw-a", Revision: 2, Draining: true, Release: "v0.9.1"},
	} {
		if err := st.PutReplicaBeat(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// An older binary's beat names neither column; a dead replica's is
	// a minute old.
	pgtest.Exec(t, dsn, `INSERT INTO replica_beats (replica, revision, inflight) VALUES ('gw-c', 3, '{}');
		INSERT INTO replica_beats (replica, revision, inflight, release, leader, beat_at) VALUES ('gw-dead', 1, '{}', 'v0.8.0', true, now() - interval '1 minute');
		UPDATE meta SET revision = 3 WHERE id = 1`)
	v, err := st.Fleet(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	beats := v.Beats
	if v.Revision != 3 {
		t.Errorf("revision %d, want the store's 3", v.Revision)
	}
	if v.LockHeld || v.LockHolder != "" {
		t.Errorf("leader lock held %v by %q, want held by none", v.LockHeld, v.LockHolder)
	}
	type row struct {
		name, release    string
		leader, draining bool
		revision         int64
		inflight         int
	}
	want := []row{{"gw-a", "v0.9.1", false, true, 2, 0}, {"gw-b", "v0.10.0", true, false, 3, 2}, {"gw-c", "", false, false, 3, 0}}
	if len(beats) != len(want) {
		t.Fatalf("%d beats (%+v), want %d: the live ones", len(beats), beats, len(want))
	}
	for i, b := range beats {
		got := row{b.Replica, b.Release, b.Leader, b.Draining, b.Revision, len(b.InFlight)}
		if got != want[i] {
			t.Errorf("beat %d: %+v, want %+v", i, got, want[i])
		}
		if b.Age < 0 || b.Age > 5*time.Second {
			t.Errorf("%s: age %v", b.Replica, b.Age)
		}
	}

	// A beat written again without a release (a replica downgraded to
	// an older binary under its name is another process, but the write
	// path must still clear it): NULL, not the last release.
	if err := st.PutReplicaBeat(ctx, postgres.ReplicaBeat{Replica: "gw-b", Revision: 3, Leader: true}); err != nil {
		t.Fatal(err)
	}
	v, err = st.Fleet(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	beats = v.Beats
	if b := beats[1]; b.Replica != "gw-b" || b.Release != "" || b.Leader {
		t.Errorf("gw-b after a beat with no release: %+v, want release and leader not known", b)
	}
}

// TestStore_FleetLockHolder: the session holding the rollout controller's
// leader lock is named by its application_name, as a replica names its
// connections ("sluice NAME", from a binary older than the beat's leader
// column too), so that an older binary's leadership is known; a holder
// whose name is not a replica's is held by an unknown one. And a beat
// older than the live window is read under a longer age.
func TestStore_FleetLockHolder(t *testing.T) {
	dsn := pgtest.Schema(t)
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	pgtest.Exec(t, dsn, `INSERT INTO replica_beats (replica, revision, inflight, beat_at) VALUES ('gw-old', 1, '{}', now() - interval '1 minute')`)
	if v, err := st.Fleet(ctx, 15*time.Minute); err != nil || len(v.Beats) != 1 || v.Beats[0].Age < 50*time.Second {
		t.Fatalf("a minute-old beat under a 15-minute age: %+v, %v", v, err)
	}
	for _, tc := range []struct{ app, holder string }{{"sluice gw-old", "gw-old"}, {"sluice", ""}, {"billing", ""}} {
		conn, err := pgx.Connect(ctx, dsn+"&application_name="+url.PathEscape(tc.app))
		if err != nil {
			t.Fatal(err)
		}
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", "sluice:leader:controller:"+st.Schema()).Scan(&got); err != nil || !got {
			t.Fatalf("take the leader lock: %v, %v", got, err)
		}
		v, err := st.Fleet(ctx, 15*time.Minute)
		// Released before the close: a closed session's backend frees
		// its locks as it exits, after Close returns, and the next
		// case's try then found the lock still held.
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock_all()"); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.LockHeld || v.LockHolder != tc.holder {
			t.Errorf("lock held by a session named %q: held %v, holder %q, want %q", tc.app, v.LockHeld, v.LockHolder, tc.holder)
		}
	}
}
