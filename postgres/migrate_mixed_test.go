package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestOpen_ConcurrentIndexBesideOlderReplica: in a rolling upgrade, a
// replica of the release before 0030 that starts while a new one builds
// requests_model_version_at CONCURRENTLY waits for the migration lock in
// pg_advisory_lock (it does not poll), holding a snapshot the build's last
// phase waits to see end: a deadlock, which PostgreSQL broke by failing the
// build, and the new replica's start with it ("try again"), every time an
// old replica started during a build. The new replica now lets the old one
// through (it finds nothing to do: its schema is whole) and builds again.
func TestOpen_ConcurrentIndexBesideOlderReplica(t *testing.T) {
	dsn := pgtest.Schema(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	key := "sluice:migrate:" + cfg.RuntimeParams["search_path"]
	ctx := t.Context()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The schema as the release before 0030 left it.
	unrecord30(t, dsn)
	pgtest.Exec(t, dsn, "DROP INDEX requests_model_version_at")

	// A writer holds the table a while, so the build is still early when
	// the old replica comes to wait.
	writer, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close(context.Background())
	wtx, err := writer.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wtx.Exec(ctx, "INSERT INTO requests (request_id, at, model, version) VALUES ('r1', now(), 'chat', 'v1')"); err != nil {
		t.Fatal(err)
	}

	var logs lockedBuffer
	done := openInBackground(ctx, dsn, &logs)
	watch, err := pgx.Connect(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	waitUntil := func(what, sql string, args ...any) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; {
			if time.Now().After(deadline) {
				t.Fatalf("not seen in 30 s: %s", what)
			}
			var ok bool
			if err := watch.QueryRow(ctx, sql, args...).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			if ok {
				return
			}
			select {
			case o := <-done:
				t.Fatalf("Open returned (%v) before %s", o.err, what)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitUntil("the build waited for the writer", `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
		WHERE query LIKE 'CREATE INDEX CONCURRENTLY % requests_model_version_at %' AND wait_event_type = 'Lock')`)

	// The old replica: the release before this one waits in pg_advisory_lock.
	old, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(context.Background())
	oldDone := make(chan error, 1)
	go func() {
		_, err := old.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
		if err == nil {
			_, err = old.Exec(ctx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)
		}
		oldDone <- err
	}()
	waitUntil("the old replica waited for the migration lock", `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
		AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0))`, key)
	// Past the old replica's deadlock check (deadlock_timeout, 1 s by
	// default), which found no cycle yet: the build's wait for it comes
	// after the writer ends.
	var timeout string
	if err := watch.QueryRow(ctx, "SHOW deadlock_timeout").Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	dt, err := time.ParseDuration(timeout)
	if err != nil {
		t.Fatalf("deadlock_timeout %q: %v", timeout, err)
	}
	time.Sleep(2 * dt)
	if err := wtx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("the new replica's Open, while an older replica waited for the migration lock: %v\n%s", o.err, logs.String())
		}
		defer o.s.Close()
	case <-time.After(60 * time.Second):
		t.Fatal("Open still migrating after 60 s")
	}
	select {
	case err := <-oldDone:
		if err != nil {
			t.Errorf("the old replica's wait for the migration lock: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("the old replica still waits for the migration lock 30 s after the new one opened")
	}
	if n := len(records(t, logs.String(), "store migration deadlocked with a process waiting for the migration lock (a replica of an older release starting); letting it through, then migrating again")); n != 1 {
		t.Errorf("the migration deadlocked %d times, want once (the old replica let through):\n%s", n, logs.String())
	}
	var valid bool
	if err := queryRow(t, dsn, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'requests_model_version_at' AND c.relnamespace = current_schema()::regnamespace`, &valid); err != nil || !valid {
		t.Errorf("requests_model_version_at after the new replica opened: valid %v, %v", valid, err)
	}
}
