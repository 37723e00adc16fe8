package replicas_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// cluster is a throw-away PostgreSQL cluster that a test may stop and
// start without disturbing the shared test server.
type cluster struct {
	t         *testing.T
	bin, data string
	port      int
	cred      *syscall.Credential
}

// newCluster creates and starts a cluster with initdb and pg_ctl from the
// Debian postgresql package, as the postgres user when run as root.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("initdb not found under /usr/lib/postgresql/*/bin: install PostgreSQL (apt-get install -y postgresql), as .ci/run does")
	}
	c := &cluster{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "sluice-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user to run initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.data = filepath.Join(dir, "data")
	c.run("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	os.WriteFile(filepath.Join(c.data, "postgresql.auto.conf"), fmt.Appendf(nil,
		"port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n", c.port, dir), 0o600)
	if c.cred != nil {
		os.Chown(filepath.Join(c.data, "postgresql.auto.conf"), int(c.cred.Uid), int(c.cred.Gid))
	}
	c.Start()
	t.Cleanup(func() { c.run("pg_ctl", "-D", c.data, "-m", "immediate", "-w", "stop") })
	return c
}

// DSN returns the cluster's DSN.
func (c *cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server and waits until it accepts connections.
func (c *cluster) Start() { c.run("pg_ctl", "-D", c.data, "-l", c.data+".log", "-w", "start") }

// Stop stops the server, ending every session (pg_ctl -m fast).
func (c *cluster) Stop() { c.run("pg_ctl", "-D", c.data, "-m", "fast", "-w", "stop") }

func (c *cluster) run(name string, args ...string) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestReplicas_PostgresOutage stops PostgreSQL under load for a few
// seconds and starts it again. Every client request must succeed (the data
// plane never reads the store), admin changes must fail with 503 saying
// why, every replica must stay ready, catch up without a restart once the
// server is back, and the request log must then hold every request.
func TestReplicas_PostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a PostgreSQL cluster and three gateway processes (skipped under -short)")
	}
	outage := 5 * time.Second
	if v := os.Getenv("SLUICE_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SLUICE_TEST_OUTAGE=%q: %v", v, err)
		}
		outage = d
	}
	pg := newCluster(t)
	f := newFleet(t, pg.DSN())
	rs := f.start(3)
	ctx := t.Context()
	l := startLoad(t, 8, rs...)
	time.Sleep(time.Second)

	pg.Stop()
	down := time.Now()
	before := l.ok.Load()
	_, err := rs[0].client.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 70}, {Version: "v1.1.0", Percent: 30}}, "", "during the outage")
	if sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("admin change while PostgreSQL is down: %v (code %q), want 503 unavailable naming PostgreSQL", err, sluice.ErrorCode(err))
	} else {
		t.Logf("admin change while PostgreSQL is down: 503: %v", err)
	}
	if _, err := rs[2].client.Replicas(ctx); sluice.ErrorCode(err) != sluice.CodeUnavailable || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("the fleet's replicas while PostgreSQL is down: %v (code %q), want 503 unavailable naming PostgreSQL", err, sluice.ErrorCode(err))
	}
	for _, r := range rs {
		resp, err := http.Get(r.url + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s /readyz while PostgreSQL is down: %v %v, want 200 (it keeps serving)", r.name, resp.Status, err)
		} else {
			resp.Body.Close()
		}
	}
	time.Sleep(outage - time.Since(down))
	during := l.ok.Load() - before
	pg.Start()
	t.Logf("PostgreSQL was down for %v; %d client requests were served meanwhile", time.Since(down).Round(time.Millisecond), during)

	// Replicas catch up without a restart: a change through replica 2 is
	// live on 1 and 3.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := rs[1].client.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 60}, {Version: "v1.1.0", Percent: 40}}, "", "after the outage")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("admin change after PostgreSQL returned still fails after 20 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range rs {
		waitRoutes(t, r, "split v1.0.0=60 v1.1.0=40", time.Now())
	}
	f.leader(10 * time.Second)
	time.Sleep(500 * time.Millisecond)
	l.finish()

	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d client requests failed, want none: %v", n, l.errs)
	}
	// The request log holds every request once the replicas have flushed.
	want := l.ok.Load()
	var got int64
	deadline = time.Now().Add(60 * time.Second)
	for {
		pending := 0.0
		for _, r := range rs {
			pending += r.metric("sluice_request_log_pending")
		}
		got = countRequests(t, pg.DSN())
		if (pending == 0 && got >= want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var dropped, failures float64
	for _, r := range rs {
		dropped += r.metric("sluice_request_log_dropped_total")
		failures += r.metric("sluice_request_log_append_errors_total")
	}
	t.Logf("%d requests served, %d failed; request log rows: %d; failed batch writes retried: %v; rows dropped: %v", want, l.failed.Load(), got, failures, dropped)
	if got != want || dropped != 0 {
		t.Errorf("request log holds %d rows (%v dropped), want every one of the %d requests", got, dropped, want)
	}
}

func countRequests(t *testing.T, dsn string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return -1
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM requests").Scan(&n); err != nil {
		return -1
	}
	return n
}
