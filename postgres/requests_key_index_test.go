package postgres_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestRequestUsage_ByClientKeyIndexed: the client budgets read each
// budgeted key's usage every few seconds (RequestUsage with a ClientKey
// and a time range), and sluice usage --key reads one key's. With no
// index on client_key the server read the whole range of requests_at (or
// the table) and kept the key's rows: on 200,000 rows over 4 hours of 20
// keys, 104 ms planned for its arguments and 162 ms on a generic plan.
// Migration 0035 builds requests_client_key_at (client_key, at), which
// both plans read for the key's rows in the range alone. The EXPLAIN
// ANALYZE times with and without the index are logged (go test -v).
func TestRequestUsage_ByClientKeyIndexed(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 rows")
	}
	s, dsn := storeWithRows(t, `INSERT INTO requests (request_id, at, model, version, client_key, input_tokens, output_tokens)
		SELECT 'req_' || g, now() - interval '4 hours' + g * interval '72 milliseconds', 'chat',
			CASE WHEN g % 3 = 0 THEN 'v2' ELSE 'v1' END, 'team-' || (g % 20), 10, 20
		FROM generate_series(1, 200000) g`)
	since, until := time.Now().Add(-5*time.Hour), time.Now().Add(time.Hour)
	q := sluice.RequestQuery{ClientKey: "team-7", Since: since, Until: until}
	usage, err := s.RequestUsage(t.Context(), q)
	if err != nil || len(usage) != 2 || usage[0].Requests+usage[1].Requests != 10000 {
		t.Fatalf("RequestUsage of team-7: %+v, %v; want 10,000 requests over v1 and v2", usage, err)
	}

	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	sql, args := postgres.RequestUsageSQL(q)
	if _, err := c.Exec(t.Context(), "PREPARE usage_by_key AS "+sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	explain := func(mode string) (plan string, ms string) {
		t.Helper()
		if _, err := c.Exec(t.Context(), "SET plan_cache_mode = "+mode, pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		rows, err := c.Query(t.Context(), "EXPLAIN ANALYZE EXECUTE usage_by_key("+literals(args)+")", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan = strings.Join(lines, "\n")
		if m := regexp.MustCompile(`Execution Time: ([0-9.]+ ms)`).FindStringSubmatch(plan); m != nil {
			ms = m[1]
		}
		return plan, ms
	}
	// The store plans RequestUsage at each run (planEach): a custom plan.
	plan, ms := explain("force_custom_plan")
	if !strings.Contains(plan, "requests_client_key_at") {
		t.Errorf("usage by client key does not read requests_client_key_at:\n%s", plan)
	}
	t.Logf("with requests_client_key_at, force_custom_plan: %s", ms)
	plan, ms = explain("force_generic_plan")
	t.Logf("with requests_client_key_at, force_generic_plan (the store makes none): %s, on %s", ms, regexp.MustCompile(`using (\w+)`).FindString(plan))
	pgtest.Exec(t, dsn, "DROP INDEX requests_client_key_at")
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		_, ms := explain(mode)
		t.Logf("without it, %s: %s", mode, ms)
	}
}

// TestRequestUsage_KeylessRowsNotIndexed: a gateway without client keys
// logs every row with an empty client_key (as do requests sent with an
// operator's token), and nothing reads a key's usage there by the index:
// requests_client_key_at leaves those rows out (a partial index), so such
// a request log pays no index entry per row, nor its disk (a full index
// took 30 bytes a row, and half again the time of a bulk insert on a
// table with two other indexes), while a read of a named key, planned
// for its argument (planEach), still uses it.
func TestRequestUsage_KeylessRowsNotIndexed(t *testing.T) {
	_, dsn := storeWithRows(t, `INSERT INTO requests (request_id, at, model, version, client_key)
		SELECT 'req_' || g, now() - interval '1 hour' + g * interval '50 milliseconds', 'chat', 'v1',
			CASE WHEN g % 1000 = 0 THEN 'team-a' ELSE '' END
		FROM generate_series(1, 50000) g`)
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var size int64
	if err := c.QueryRow(t.Context(), "SELECT pg_relation_size('requests_client_key_at')").Scan(&size); err != nil {
		t.Fatal(err)
	}
	// 50 keyed rows fit in the btree's metapage and one leaf.
	if size > 3*8192 {
		t.Errorf("requests_client_key_at is %d bytes for 50 keyed rows among 50,000: want the keyless rows left out of it", size)
	}
	sql, args := postgres.RequestUsageSQL(sluice.RequestQuery{ClientKey: "team-a", Since: time.Now().Add(-2 * time.Hour), Until: time.Now()})
	rows, err := c.Query(t.Context(), "EXPLAIN "+sql, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if plan := strings.Join(lines, "\n"); !strings.Contains(plan, "requests_client_key_at") {
		t.Errorf("usage of a named key does not read requests_client_key_at:\n%s", plan)
	}
}
