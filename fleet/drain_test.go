package fleet_test

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// counts is a replica's requests in flight per version, set by the test.
type counts struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counts) set(id string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int64{}
	}
	if n == 0 {
		delete(c.m, id)
	} else {
		c.m[id] = n
	}
}

func (c *counts) get() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}

// waitElsewhere polls d.InFlightElsewhere until it returns want.
func waitElsewhere(t *testing.T, what string, d *fleet.Drain, id string, rev, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := d.InFlightElsewhere(context.Background(), id, rev)
		if err == nil && n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: InFlightElsewhere(%s, %d) = %d, %v; want %d", what, id, rev, n, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// What the user does: runs replicas on PostgreSQL and rolls a candidate
// back through one of them. What must happen: the replica that drains sees
// the candidate's requests in flight through the others (and never counts
// itself twice), counts as busy a replica that has not yet published a
// count taken under the rollback's routing, hears of a version's last
// request ending at once (not at the next periodic beat), and ignores the
// beat of a replica that died or stopped.
func TestDrain_InFlightElsewhere(t *testing.T) {
	dsn := pgtest.Schema(t)
	var aCounts, bCounts counts
	// The periodic beat is an hour apart: only Routed and the end of a
	// version's requests can publish in time here.
	a := fleet.NewDrain(fleet.DrainOptions{Store: MustOpen(t, dsn), Replica: "a", InFlight: aCounts.get, Interval: time.Hour})
	b := fleet.NewDrain(fleet.DrainOptions{Store: MustOpen(t, dsn), Replica: "b", InFlight: bCounts.get, Interval: time.Hour})
	aCounts.set("chat:v2", 5) // a's own: never in its InFlightElsewhere
	bCounts.set("chat:v2", 2)
	bCounts.set("chat:v1", 7)
	b.Routed(3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	aDone := make(chan struct{})
	go func() { defer close(aDone); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-aDone })

	t.Run("OK", func(t *testing.T) {
		waitElsewhere(t, "b's requests to v2", a, "chat:v2", 3, 2)
		waitElsewhere(t, "b's requests to v1", a, "chat:v1", 3, 7)
		waitElsewhere(t, "a's requests, seen from b", b, "chat:v2", 0, 5)
	})
	t.Run("NotYetRouted", func(t *testing.T) {
		// Revision 4 took v2 out; b still routes by 3.
		waitElsewhere(t, "b before it routes by 4", a, "chat:v2", 4, 1)
		b.Routed(4)
		waitElsewhere(t, "b routing by 4", a, "chat:v2", 4, 2)
	})
	t.Run("EndedAtOnce", func(t *testing.T) {
		bCounts.set("chat:v2", 0)
		waitElsewhere(t, "b's last request to v2 ended", a, "chat:v2", 4, 0)
	})
	t.Run("ExpiredIgnored", func(t *testing.T) {
		// A replica killed with requests in flight: its row stays, and
		// goes stale.
		pgtest.Exec(t, dsn, `INSERT INTO replica_beats (replica, revision, inflight, beat_at) VALUES ('dead', 9, '{"chat:v2": 3}', now() - interval '1 minute')`)
		waitElsewhere(t, "a dead replica's stale beat", a, "chat:v2", 4, 0)
	})
	t.Run("Stopped", func(t *testing.T) {
		bCounts.set("chat:v2", 1)
		b.Routed(5)
		waitElsewhere(t, "b's new request", a, "chat:v2", 5, 1)
		cancel()
		<-done
		// b deleted its beat as it stopped: no drain waits for it.
		waitElsewhere(t, "b stopped", a, "chat:v2", 5, 0)
	})
}
