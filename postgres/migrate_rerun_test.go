package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// indexState reads requests_model_version_at: its oid, whether it is
// valid, and its definition.
func indexState(t *testing.T, dsn string) (oid uint32, valid bool, def string) {
	t.Helper()
	if err := queryRow(t, dsn, `SELECT c.oid, i.indisvalid, pg_get_indexdef(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE c.relname = 'requests_model_version_at' AND c.relnamespace = current_schema()::regnamespace`, &oid, &valid, &def); err != nil {
		t.Fatalf("the index requests_model_version_at: %v", err)
	}
	return oid, valid, def
}

// TestOpen_ReRunsIndexMigration: migration 0030 runs outside a
// transaction, so a run that stopped half way is run again whole. A build
// that failed (the process killed, the statement cancelled) leaves an
// invalid index of the name, which the run again builds anew. A valid one
// (built by hand ahead of an upgrade, as a large log's build outlasts a
// startup probe, or by a run whose process died before it recorded the
// migration, its build going on in the server) was dropped and built
// again too: minutes of work thrown away on a large log, every start, so
// an upgrade whose build outlasted the startup probe never ended. It is
// kept now.
func TestOpen_ReRunsIndexMigration(t *testing.T) {
	dsn := pgtest.Schema(t)
	open := func() {
		t.Helper()
		s, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	open()
	_, _, want := indexState(t, dsn)
	pgtest.Exec(t, dsn, `INSERT INTO requests (request_id, at, model, version)
		SELECT 'req_' || g, now() - g * interval '1 second', 'chat', 'v1' FROM generate_series(1, 1000) g`)

	// A valid index there already, 0030 not recorded.
	unrecord30(t, dsn)
	before, _, _ := indexState(t, dsn)
	open()
	after, valid, def := indexState(t, dsn)
	if after != before || !valid || def != want {
		t.Errorf("a valid index built before 0030 ran: oid %d, then %d (valid %v, %s): want it kept", before, after, valid, def)
	}

	// An invalid one, as a build that failed leaves: a unique index
	// CONCURRENTLY over a duplicate fails once it was entered.
	unrecord30(t, dsn)
	pgtest.Exec(t, dsn, `DROP INDEX requests_model_version_at;
		INSERT INTO requests (request_id, at, model, version) VALUES ('dup', now(), 'chat', 'v1'), ('dup', now(), 'chat', 'v1')`)
	if err := execErr(t, dsn, "CREATE UNIQUE INDEX CONCURRENTLY requests_model_version_at ON requests (request_id)"); err == nil {
		t.Fatal("a unique index over a duplicate was built")
	}
	if _, valid, _ := indexState(t, dsn); valid {
		t.Fatal("the failed build left a valid index")
	}
	open()
	if _, valid, def := indexState(t, dsn); !valid || def != want {
		t.Errorf("after a failed build, 0030 left the index valid %v, %s; want valid, %s", valid, def, want)
	}
	var n int
	if err := queryRow(t, dsn, "SELECT COUNT(*) FROM schema_migrations WHERE version = 30", &n); err != nil || n != 1 {
		t.Errorf("0030 recorded %d times (%v), want once", n, err)
	}
}

// unrecord30 puts dsn's schema back at 29 as far as schema_migrations
// says, 0030's index left as it is: Open runs the migrations after the
// highest one recorded, so every later one is taken back too, and
// undone, as it runs again (0031 adds columns without IF NOT EXISTS, 0032
// creates a table). A migration after 0032 that cannot run twice is
// undone here too.
func unrecord30(t *testing.T, dsn string) {
	t.Helper()
	pgtest.Exec(t, dsn, `DELETE FROM schema_migrations WHERE version >= 30;
		DROP TABLE judge_grades;
		DROP INDEX request_feedback_model_answered;
		ALTER TABLE request_feedback DROP COLUMN model, DROP COLUMN version, DROP COLUMN category,
			DROP COLUMN route, DROP COLUMN answered_at, DROP COLUMN score`)
}

// execErr runs sql on a connection of its own and returns its error.
func execErr(t *testing.T, dsn, sql string) error {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	_, err = c.Exec(t.Context(), sql)
	return err
}
