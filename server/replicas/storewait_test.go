package replicas_test

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
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
	// Meanwhile it listens: alive (a liveness probe must not kill it),
	// not ready, saying why; nothing listened before.
	var waitURL string
	waitFor(t, 10*time.Second, "the replica to say where it answers while it waits", func() bool {
		m := waitingRE.FindStringSubmatch(r.Log())
		if m != nil {
			waitURL = m[1]
		}
		return m != nil
	})
	for _, c := range []struct {
		path string
		code int
		want []string
	}{
		{"/healthz", 200, []string{"ok", "waiting for the store"}},
		{"/readyz", 503, []string{"waiting for the store", "the last try:", "store_wait 1m0s"}},
		{"/admin/v1/models", 503, []string{"waiting for the store"}},
	} {
		resp, err := http.Get(waitURL + c.path)
		if err != nil {
			t.Fatalf("GET %s while the replica waits for PostgreSQL: %v", c.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("GET %s while waiting: %d %s, want %d", c.path, resp.StatusCode, body, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("GET %s while waiting: %q does not say %q", c.path, body, w)
			}
		}
		if strings.Contains(string(body), pg.DSN()) || strings.Contains(string(body), pgPassword(pg.DSN())) {
			t.Errorf("GET %s while waiting shows the store's credentials: %q", c.path, body)
		}
	}
	pg.Start()
	f.await(r)
	if r.url != waitURL {
		t.Errorf("the replica serves at %s, but answered at %s while it waited: the socket was not handed over", r.url, waitURL)
	}
	if resp, err := http.Get(r.url + "/readyz"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("/readyz once the store answers: %d %s, want 200", resp.StatusCode, body)
		}
	}
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

// waitingRE finds the address a replica answers on while it waits for its
// store.
var waitingRE = regexp.MustCompile(`answering /healthz 200 and /readyz 503 while waiting for the store.*?(http://[0-9.:]+)`)

// pgPassword returns the password in dsn, or a string no body holds.
func pgPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			return pw
		}
	}
	return "\x00no password\x00"
}
