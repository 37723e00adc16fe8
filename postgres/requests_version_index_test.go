package postgres_test

import (
	"context"
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
	done := openInBackground(ctx, dsn, &logs)
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

// TestRequests_VersionReadStaysOnIndex: pgx prepares each query once per
// connection, and after five runs of a prepared statement PostgreSQL may
// plan it once for any parameters (a generic plan), which cannot know a
// version is rare: for this read it walked requests_at over the whole
// range and filtered the version (0.36 s against 0.02-0.15 s for a 1%
// candidate over 4 hours of a 2M-row log), on every connection of the
// pool that had served the read five times. Each read is planned for its
// own version now, and walks requests_model_version_at every time.
func TestRequests_VersionReadStaysOnIndex(t *testing.T) {
	dsn := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), dsn+"&pool_max_conns=1") // one connection: every read on it
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	pgtest.Exec(t, dsn, `INSERT INTO requests (request_id, at, model, version)
		SELECT 'req_' || g, now() - interval '4 hours' + g * interval '288 milliseconds', 'chat',
			CASE WHEN g % 100 = 0 THEN 'v2' ELSE 'v1' END
		FROM generate_series(1, 50000) g;
		ANALYZE requests`)
	// The index scans of the request log's indexes so far, by index.
	scans := func() map[string]int64 {
		c, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		rows, err := c.Query(t.Context(), `SELECT indexrelname, idx_scan FROM pg_stat_user_indexes
			WHERE schemaname = current_schema() AND relname = 'requests' AND indexrelname <> 'requests_request_id'`)
		if err != nil {
			t.Fatal(err)
		}
		m, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
			name string
			n    int64
		}, error) {
			var v struct {
				name string
				n    int64
			}
			return v, r.Scan(&v.name, &v.n)
		})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, v := range m {
			if v.name != "requests_pkey" {
				out[v.name] = v.n
			}
		}
		return out
	}
	before := scans()
	const reads = 8
	since := time.Now().Add(-4 * time.Hour)
	for range reads {
		got, err := s.Requests(t.Context(), sluice.RequestQuery{Model: "chat", Version: "v2", Since: since, Until: time.Now().Add(-13 * time.Minute), Limit: 65536})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatal("read no rows of v2")
		}
	}
	// The server publishes a session's counts as it ends (or once it is
	// idle, within 10 s).
	s.Close()
	closed = true
	var after map[string]int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		after = scans()
		var n int64
		for name, c := range after {
			n += c - before[name]
		}
		if n >= reads {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server counted %d index scans of requests in 30 s, want %d: %v then %v", n, reads, before, after)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := after["requests_model_version_at"] - before["requests_model_version_at"]; n != reads {
		t.Errorf("%d of %d reads of v2 walked requests_model_version_at (index scans before %v, after %v): the others ran a plan made for any version",
			n, reads, before, after)
	}
}
