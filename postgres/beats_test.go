package postgres_test

import (
	"testing"
	"time"

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
	beats, rev, err := st.Fleet(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rev != 3 {
		t.Errorf("revision %d, want the store's 3", rev)
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
	beats, _, err = st.Fleet(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if b := beats[1]; b.Replica != "gw-b" || b.Release != "" || b.Leader {
		t.Errorf("gw-b after a beat with no release: %+v, want release and leader not known", b)
	}
}
