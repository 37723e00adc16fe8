package server_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/postgres/pgtest"
	"github.com/sluicehq/sluice/server"
)

// What the user does: starts a replica while a session holds the store's
// migration lock and never lets it go (a replica hung mid-migration), then
// stops the replica (SIGTERM) as it never turned ready.
// What happened: nothing on /metrics said the replica waited (alive and
// not ready for ever, with no alert to fire), and the stop's error was
// "wait for the migration lock: context canceled".
// What must happen: sluice_store_migration_lock_wait_seconds counts the
// wait, the log names the lock's holder (not /healthz, which anyone may
// ask), and the stop's error says the
// replica was stopped while waiting for the lock held by that session,
// and how to end it.
func TestStart_MigrationLockStuck(t *testing.T) {
	dsn := pgtest.Schema(t)
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	key := "sluice:migrate:" + pc.RuntimeParams["search_path"]
	pc.RuntimeParams["application_name"] = "sluice gw-stuck"
	holder, err := pgx.ConnectConfig(t.Context(), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	var pid int32
	if err := holder.QueryRow(t.Context(), "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock(hashtextextended($1, 0))) l", key).Scan(&pid); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = dsn
	logs := &syncBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		gw, err := server.New(ctx, server.Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if gw != nil {
			gw.Shutdown(context.Background())
		}
		done <- err
	}()
	var base string
	waitFor(t, "the starting gateway to say where it answers while it waits", 20*time.Second, func() bool {
		if m := migratingRE.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})
	held := fmt.Sprintf(`PostgreSQL backend pid %d (application "sluice gw-stuck", client 127.0.0.1, connected since `, pid)
	waited := func() float64 {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "sluice_store_migration_lock_wait_seconds "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		t.Fatal("/metrics has no sluice_store_migration_lock_wait_seconds while the gateway waits for the migration lock")
		return 0
	}
	waitFor(t, "the lock's wait to reach a second on /metrics", 10*time.Second, func() bool { return waited() >= 1 })
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body := new(strings.Builder)
	bufio.NewReader(resp.Body).WriteTo(body)
	resp.Body.Close()
	// /healthz (and every answer while it waits, on the public listener
	// too) is unauthenticated: it points at the log, which names the
	// holder, and says nothing of the session's client address or pid.
	if !strings.Contains(body.String(), "; this replica's log names the session holding the lock (held_by)") ||
		strings.Contains(body.String(), "127.0.0.1") || strings.Contains(body.String(), strconv.Itoa(int(pid))) {
		t.Errorf("/healthz while the lock is held: %q, want it to point at the log, without the holder's address or pid", body)
	}
	for _, path := range []string{"/readyz", "/v1/models"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		bufio.NewReader(resp.Body).WriteTo(b)
		resp.Body.Close()
		if strings.Contains(b.String(), "127.0.0.1") || strings.Contains(b.String(), strconv.Itoa(int(pid))) {
			t.Errorf("%s while the lock is held names the holder's session: %q", path, b)
		}
	}
	if q := strconv.Quote(held); !strings.Contains(logs.String(), "held_by="+q[:len(q)-1]) {
		t.Errorf("the log while the lock is held: %s\nwant held_by naming %q", logs, held)
	}

	stop() // SIGTERM
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the start did not return 10 s after it was stopped")
	}
	if err == nil {
		t.Fatal("the start stopped while waiting for the migration lock returned no error")
	}
	for _, want := range []string{"open store: stopped (context canceled) after waiting ", "for the migration lock of schema " + pc.RuntimeParams["search_path"] + ", held by " + held,
		fmt.Sprintf("end its session (SELECT pg_terminate_backend(%d))", pid)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the stopped start's error: %v\nwant it to say %q", err, want)
		}
	}
}
