package replicas_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplicas_StartWhilePostgresDown: a replica started while PostgreSQL
// is down (a pod rescheduled during an outage) waits for it, saying so,
// and serves once it is back, instead of exiting into a supervisor's
// back-off; a store that will not change by waiting (no such database)
// ends the start at once; a store_wait that runs out says how to wait
// longer. Before store_wait the first replica exited at once with "cannot
// reach PostgreSQL".
func TestReplicas_StartWhilePostgresDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a PostgreSQL cluster and gateway processes (skipped under -short)")
	}
	pg := newCluster(t)
	pg.Stop()

	f := newFleet(t, pg.DSN())
	r := f.spawn(1)[0]
	waitFor(t, 30*time.Second, "the replica to say it waits for PostgreSQL", func() bool {
		return strings.Contains(r.Log(), "PostgreSQL not reachable yet; waiting for it (store_wait)")
	})
	select {
	case <-r.done:
		t.Fatalf("the replica exited while PostgreSQL was down:\n%s", r.Log())
	case <-time.After(1500 * time.Millisecond):
	}
	pg.Start()
	f.await(r)
	if !strings.Contains(r.Log(), "PostgreSQL reached; starting") {
		t.Errorf("the replica did not say it reached PostgreSQL:\n%s", r.Log())
	}
	resp, err := http.Post(r.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a chat request to the replica that waited: %d", resp.StatusCode)
	}
	if pol, err := r.policy(t.Context()); err != nil || pol == "" {
		t.Fatalf("the admin API of the replica that waited: %q %v", pol, err)
	}

	// No such database: waiting would not help, so it exits at once.
	nodb := newFleet(t, strings.Replace(pg.DSN(), "/postgres?", "/nosuchdb?", 1))
	bad := nodb.spawn(1)[0]
	select {
	case <-bad.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("a replica whose database does not exist still runs after 20 s:\n%s", bad.Log())
	}
	if log := bad.Log(); strings.Contains(log, "waiting for it") || !strings.Contains(log, "the database does not exist") {
		t.Errorf("a replica whose database does not exist: want it to exit at once saying so, got:\n%s", log)
	}

	// A wait that runs out names store_wait.
	pg.Stop()
	short := newFleet(t, pg.DSN())
	short.cfg = writeFleetConfig(short.dir, filepath.Join(short.dir, "models.yaml"), "store_wait: 2s\n")
	gone := short.spawn(1)[0]
	select {
	case <-gone.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("a replica with store_wait: 2s still runs after 30 s:\n%s", gone.Log())
	}
	if log := gone.Log(); !strings.Contains(log, "cannot reach PostgreSQL") || !strings.Contains(log, "raise store_wait to wait longer") {
		t.Errorf("a replica whose store_wait ran out: want the error saying so, got:\n%s", log)
	}
	pg.Start() // as the cluster's cleanup stops it
}
