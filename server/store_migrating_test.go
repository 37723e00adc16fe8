package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// migratingRE reads where a starting gateway answers while it migrates.
var migratingRE = regexp.MustCompile(`answering /healthz 200 and /readyz 503 while migrating the store.*?(http://[0-9.:]+)`)

// waitedRE reads how long /healthz says the start has waited.
var waitedRE = regexp.MustCompile(`waiting for the store's migration lock for ([0-9]+s):`)

// What the user does: starts a replica (a rolling upgrade's new pod) while
// another process holds the store's migration lock, as a replica that
// builds migration 0030's index CONCURRENTLY on a large request log does
// for minutes.
// What happened: the replica did not listen until its migrations ended,
// so the startup or liveness probe found nothing on /healthz and killed
// it, mid-migration, at every start.
// What must happen: it listens at once, /healthz 200 saying it waits for
// the migration lock and for how long, /readyz and the data plane 503;
// once the lock is let go it starts on the same sockets and is ready.
func TestStart_AliveWhileMigrationLockHeld(t *testing.T) {
	// A schema the lock's holder has yet to migrate, as a rolling
	// upgrade's first new replica holds it while the schema is behind
	// (0030 is recorded once its index is built): a replica that finds
	// the schema at its newest version takes no lock, so does not wait.
	dsn := pgtest.Schema(t)
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	key := "sluice:migrate:" + pc.RuntimeParams["search_path"]
	holder, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(t.Context(), "SELECT pg_advisory_lock(hashtextextended($1, 0))", key); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key); err != nil {
				t.Error(err)
			}
		}
	}
	defer release()

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = dsn
	logs := &syncBuffer{}
	type started struct {
		gw  *server.Server
		err error
	}
	done := make(chan started, 1)
	began := time.Now() // before the wait began
	go func() {
		gw, err := server.New(context.Background(), server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		done <- started{gw, err}
	}()
	var base string
	waitFor(t, "the starting gateway to say where it answers while it migrates", 20*time.Second, func() bool {
		select {
		case s := <-done:
			t.Fatalf("the gateway's start returned (%v) while another process held the migration lock", s.err)
		default:
		}
		if m := migratingRE.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})
	time.Sleep(1100 * time.Millisecond) // a second of waiting to report
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s while the gateway waits for the migration lock: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		path string
		code int
		want []string
	}{
		{"/healthz", 200, []string{"ok: starting: waiting for the store's migration lock for ", "another process", "migrating the schema"}},
		{"/readyz", 503, []string{"waiting for the store's migration lock"}},
		{"/v1/models", 503, []string{"waiting for the store's migration lock", "send the request to another replica"}},
	} {
		asked := time.Now()
		code, body := get(c.path)
		if c.path == "/healthz" {
			// How long it has waited: at least the second slept
			// since it said so, at most the time since it began
			// (rounded to the second as the answer is). A loaded
			// machine may take any time over the sleep, so the
			// figure is bounded, not named.
			m := waitedRE.FindStringSubmatch(body)
			least, most := time.Second, time.Since(began).Round(time.Second)
			if m == nil {
				t.Errorf("GET /healthz while waiting for the migration lock: %q, want it to say for how long", body)
			} else if d, err := time.ParseDuration(m[1]); err != nil || d < least || d > most {
				t.Errorf("GET /healthz %v after the gateway began to wait: it says it waited %s, want %v to %v", asked.Sub(began), m[1], least, most)
			}
		}
		if code != c.code {
			t.Errorf("GET %s while waiting for the migration lock: %d %s, want %d", c.path, code, body, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s while waiting for the migration lock: %q, want it to say %q", c.path, body, w)
			}
		}
	}
	release()
	var s started
	select {
	case s = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway had not started 30 s after the migration lock was let go")
	}
	if s.err != nil {
		t.Fatal(s.err)
	}
	t.Cleanup(func() { s.gw.Shutdown(context.Background()) })
	if err := s.gw.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz 200 on the same socket once started", 10*time.Second, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}
