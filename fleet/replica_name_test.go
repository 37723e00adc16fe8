package fleet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// What the user does: gives a replica a fixed name (fleet.Options.Replica,
// such as a StatefulSet's pod name), then restarts it, or by mistake gives
// two live processes the same name.
// What must happen: the name is only a readable prefix; each process's
// rows (flushes, beats, rollback ownership) are its own, so a restarted
// process is told apart from its former self and two live processes from
// each other.
func TestWindows_ReplicaNameReused(t *testing.T) {
	t.Run("Restart", func(t *testing.T) {
		// The restarted process numbers its flushes from 1 again: under the
		// old process's name those rows were dropped as already written,
		// and readers skipped them as already read, so its traffic was
		// missing from the fleet-wide analysis for the table's retention.
		dsn := pgtest.Schema(t)
		since := time.Now().Add(-time.Minute)
		reader := newReplica(t, dsn, "reader", fleet.Options{})
		before := newReplica(t, dsn, "pod-0", fleet.Options{})
		traffic(before.rec, "v1", "", time.Now(), 40)
		mustFlush(t, before)
		mustPull(t, reader)
		after := newReplica(t, dsn, "pod-0", fleet.Options{}) // the same pod, restarted
		traffic(after.rec, "v1", "", time.Now(), 30)
		mustFlush(t, after)
		mustPull(t, reader)
		if got := reader.win.Window("chat", "v1", "", since).Requests; got != 70 {
			t.Errorf("the reader sees %d requests of the replica named pod-0, want 70 (40 before its restart, 30 after)", got)
		}
		if before.win.Replica() == after.win.Replica() {
			t.Errorf("the restarted process writes as %q, as its former self did", after.win.Replica())
		}
		if !strings.HasPrefix(after.win.Replica(), "pod-0") {
			t.Errorf("the replica writes as %q: the name given should lead it", after.win.Replica())
		}
	})

	t.Run("TwoLive", func(t *testing.T) {
		// Two live processes named alike: each one's drain took the other's
		// beat for its own and left it out, so a rollback through one called
		// the unload webhook while the other still served the candidate.
		dsn := pgtest.Schema(t)
		one := newReplica(t, dsn, "pod-0", fleet.Options{})
		two := newReplica(t, dsn, "pod-0", fleet.Options{})
		var oneCounts, twoCounts counts
		twoCounts.set("chat:v2", 3)
		d1 := fleet.NewDrain(fleet.DrainOptions{Store: one.store, Replica: one.win.Replica(), InFlight: oneCounts.get, Interval: time.Hour})
		d2 := fleet.NewDrain(fleet.DrainOptions{Store: two.store, Replica: two.win.Replica(), InFlight: twoCounts.get, Interval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}, 2)
		go func() { d1.Run(ctx); done <- struct{}{} }()
		go func() { d2.Run(ctx); done <- struct{}{} }()
		t.Cleanup(func() { cancel(); <-done; <-done })
		waitElsewhere(t, "the twin's requests in flight", d1, "chat:v2", 0, 3)
		alive, err := d1.Alive(ctx, two.win.Replica())
		if err != nil || !alive {
			t.Errorf("Alive(the twin) = %v, %v; want true", alive, err)
		}
	})
}
