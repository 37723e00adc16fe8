package postgres_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestRequests_SeedReadUsesVersionIndex: the seed of a restart
// mid-rollout reads a version's rows over a time range, newest first. With
// no index on (model, version, at) PostgreSQL read every row of the model
// in the range (a parallel scan of the whole table for a rare candidate on
// a large log); migration 0030 builds one, valid, and the read's plan
// walks it.
func TestRequests_SeedReadUsesVersionIndex(t *testing.T) {
	dsn := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var valid bool
	if err := queryRow(t, dsn, `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'requests_model_version_at' AND c.relnamespace = current_schema()::regnamespace`, &valid); err != nil {
		t.Fatalf("the index requests_model_version_at (migration 0030): %v", err)
	}
	if !valid {
		t.Fatal("requests_model_version_at is not valid: its build failed")
	}
	// 50,000 rows over 4 hours, 1% of them the candidate's.
	pgtest.Exec(t, dsn, `INSERT INTO requests (request_id, at, model, version)
		SELECT 'req_' || g, now() - interval '4 hours' + g * interval '288 milliseconds', 'chat',
			CASE WHEN g % 100 = 0 THEN 'v2' ELSE 'v1' END
		FROM generate_series(1, 50000) g;
		ANALYZE requests`)
	since := time.Now().Add(-4 * time.Hour)
	sql, args := postgres.RequestsSQL(sluice.RequestQuery{Model: "chat", Version: "v2", Since: since, Until: time.Now().Add(-13 * time.Minute), Limit: 65536})
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	rows, err := c.Query(t.Context(), "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "Index Scan Backward using requests_model_version_at") {
		t.Errorf("the seed's read of a rare version does not walk requests_model_version_at:\n%s", plan.String())
	}
	got, err := s.Requests(t.Context(), sluice.RequestQuery{Model: "chat", Version: "v2", Since: since, Limit: 65536})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 500 {
		t.Errorf("read %d rows of v2, want its 500", len(got))
	}
}

// TestOpen_WaitsBesideConcurrentIndexBuild: a replica that finds another
// migrating waits for the migration lock, and the other's migration may
// build an index CONCURRENTLY (0030), which waits for every statement
// that holds a snapshot older than its build to end. A wait in
// pg_advisory_lock is such a statement, and the server broke that
// deadlock by failing one side (the waiting replica's start, or the
// migration). A replica that polls the lock holds no statement while it
// waits, and both finish.
func TestOpen_WaitsBesideConcurrentIndexBuild(t *testing.T) {
	dsn := pgtest.Schema(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := cfg.RuntimeParams["search_path"]
	ctx := t.Context()
	holder, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, "CREATE TABLE building (a int); INSERT INTO building SELECT generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", "sluice:migrate:"+schema); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	type opened struct {
		s   *postgres.Store
		err error
	}
	done := make(chan opened, 1)
	go func() {
		s, err := postgres.OpenOptions(ctx, dsn, postgres.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		done <- opened{s, err}
	}()
	for len(records(t, logs.String(), "store migration lock held by another process (a replica migrating the schema); waiting for it")) == 0 {
		select {
		case o := <-done:
			t.Fatalf("Open returned (%v) while another process held the migration lock", o.err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	time.Sleep(300 * time.Millisecond) // Open is in its wait
	if _, err := holder.Exec(ctx, "CREATE INDEX CONCURRENTLY building_a ON building (a)"); err != nil {
		t.Fatalf("the migrating replica's CREATE INDEX CONCURRENTLY, while another waits for the migration lock: %v", err)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", "sluice:migrate:"+schema); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("the waiting replica's Open: %v", o.err)
		}
		o.s.Close()
	case <-time.After(30 * time.Second):
		t.Fatal("Open still waits 30 s after the migration lock was released")
	}
}
