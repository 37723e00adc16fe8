package replicas_test

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
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
	// /metrics answers too (where the started gateway serves it), so
	// Prometheus does not mark the target down while it waits: the Go
	// runtime's metrics and the wait's. It answered 503 before.
	waitingMetrics := scrapeText(t, waitURL+"/metrics")
	for _, want := range []string{"\nsluice_store_ready 0\n", "\ngo_goroutines ", "\nprocess_start_time_seconds "} {
		if !strings.Contains(waitingMetrics, want) {
			t.Errorf("/metrics while the replica waits for PostgreSQL does not hold %q:\n%s", strings.TrimSpace(want), waitingMetrics)
		}
	}
	if v := metricValue(waitingMetrics, "sluice_store_wait_tries_total"); v < 1 {
		t.Errorf("sluice_store_wait_tries_total while waiting: %v, want at least 1", v)
	}
	if v := metricValue(waitingMetrics, "sluice_store_wait_seconds"); v < 1 {
		t.Errorf("sluice_store_wait_seconds while waiting (over 1.5 s in): %v, want at least 1", v)
	}
	pg.Start()
	f.await(r)
	started := scrapeText(t, r.url+"/metrics")
	if !strings.Contains(started, "\nsluice_store_ready 1\n") || !strings.Contains(started, "\nsluice_store_wait_seconds 0\n") {
		t.Errorf("/metrics once the store answered: want sluice_store_ready 1 and sluice_store_wait_seconds 0, got:\n%s", started)
	}
	if v := metricValue(started, "sluice_store_wait_tries_total"); v < 1 {
		t.Errorf("sluice_store_wait_tries_total once started: %v, want the tries it waited after (at least 1)", v)
	}
	if !strings.Contains(started, "\nsluice_replica_leader ") {
		t.Errorf("/metrics once the store answered lacks the gateway's own metrics:\n%s", started)
	}
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

	// A wait that runs out names store_wait. This replica has an
	// admin_listen: while it waits, /metrics is served there, as once
	// started, and the data plane's address answers it 503 as before.
	pg.Stop()
	short := newFleet(t, pg.DSN())
	short.cfg = writeFleetConfig(short.dir, filepath.Join(short.dir, "models.yaml"), "store_wait: 4s\nadmin_listen: 127.0.0.1:0\n")
	gone := short.spawn(1)[0]
	var addrs []string
	waitFor(t, 10*time.Second, "the replica with admin_listen to say where it answers while it waits", func() bool {
		if m := waitingTwoRE.FindStringSubmatch(gone.Log()); m != nil {
			addrs = m[1:]
		}
		return addrs != nil
	})
	if m := scrapeText(t, addrs[1]+"/metrics"); !strings.Contains(m, "\nsluice_store_ready 0\n") {
		t.Errorf("/metrics on admin_listen while waiting lacks sluice_store_ready 0:\n%s", m)
	}
	if resp, err := http.Get(addrs[0] + "/metrics"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/metrics on listen (admin_listen set) while waiting: %d, want 503 as the other paths", resp.StatusCode)
		}
	}
	select {
	case <-gone.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("a replica with store_wait: 4s still runs after 30 s:\n%s", gone.Log())
	}
	if log := gone.Log(); !strings.Contains(log, "cannot reach PostgreSQL") || !strings.Contains(log, "raise store_wait to wait longer") {
		t.Errorf("a replica whose store_wait ran out: want the error saying so, got:\n%s", log)
	}
	pg.Start() // as the cluster's cleanup stops it
}

// waitingRE finds the address a replica answers on while it waits for its
// store.
var waitingRE = regexp.MustCompile(`answering /healthz 200 and /readyz 503 while waiting for the store.*?(http://[0-9.:]+)`)

// waitingTwoRE finds the two addresses (listen, admin_listen) a replica
// answers on while it waits for its store.
var waitingTwoRE = regexp.MustCompile(`answering /healthz 200 and /readyz 503 while waiting for the store.*?(http://[0-9.:]+), (http://[0-9.:]+)`)

// pgPassword returns the password in dsn, or a string no body holds.
func pgPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			return pw
		}
	}
	return "\x00no password\x00"
}

// scrapeText returns the body of a GET of url, failing the test unless it
// answers 200.
func scrapeText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s, want 200", url, resp.StatusCode, body)
	}
	return "\n" + string(body)
}

// metricValue returns the value of the series name (without labels) in a
// scrape, or -1 if it is not there.
func metricValue(scrape, name string) float64 {
	for line := range strings.Lines(scrape) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}
