package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestCountRequests_RareModelPlannedForItself: pgx prepares each query
// once per connection, and after five runs of a prepared statement
// PostgreSQL may plan it once for any parameters (a generic plan). For
// CountRequests and RequestUsage over a log where one model (or version)
// is hot and another rare, that plan walks requests_at over the whole
// range and filters the model: here, on 200,000 rows over 4 hours with a
// 1% model, CountRequests of the rare model took 135 ms on the generic
// plan against 21 ms on its own (requests_model_at), and RequestUsage of
// a 1% version 149 ms against 3 ms (requests_model_version_at). The store
// now runs both as unnamed statements, planned at each run, as Requests
// is: no statement of theirs stays prepared on the connection.
func TestCountRequests_RareModelPlannedForItself(t *testing.T) {
	dsn := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), dsn+"&pool_max_conns=1") // one connection: every read on it
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pgtest.Exec(t, dsn, `INSERT INTO requests (request_id, at, model, version, client_key)
		SELECT 'req_' || g, now() - interval '4 hours' + g * interval '72 milliseconds',
			CASE WHEN g % 100 = 0 THEN 'rare' ELSE 'chat' END, CASE WHEN g % 100 = 0 THEN 'v2' ELSE 'v1' END, 'team'
		FROM generate_series(1, 200000) g;
		ANALYZE requests`)
	// Every row, however long the insert took.
	since, until := time.Now().Add(-5*time.Hour), time.Now().Add(time.Hour)
	hot := sluice.RequestQuery{Model: "chat", Since: since, Until: until}
	rare := sluice.RequestQuery{Model: "rare", Since: since, Until: until}
	hotV := sluice.RequestQuery{Model: "chat", Version: "v1", Since: since, Until: until}
	rareV := sluice.RequestQuery{Model: "rare", Version: "v2", Since: since, Until: until}

	// The hazard, on this server: the statement prepared and run five
	// times for the hot model keeps a plan for any model, which reads
	// the rare one's range of requests_at and filters the model.
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, q := range []struct {
		name      string
		sql       func(sluice.RequestQuery) (string, []any)
		hot, rare sluice.RequestQuery
		index     string
	}{
		{"count_requests", postgres.CountRequestsSQL, hot, rare, "requests_model_at"},
		{"request_usage", postgres.RequestUsageSQL, hotV, rareV, "requests_model_version_at"},
	} {
		sql, hotArgs := q.sql(q.hot)
		_, rareArgs := q.sql(q.rare)
		if _, err := c.Prepare(t.Context(), q.name, sql); err != nil {
			t.Fatal(err)
		}
		plan := func() string {
			t.Helper()
			rows, err := c.Query(t.Context(), "EXPLAIN EXECUTE "+q.name+"("+literals(rareArgs)+")", pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			return strings.Join(lines, "\n")
		}
		if p := plan(); !strings.Contains(p, q.index) {
			t.Fatalf("%s of the rare model, planned for it: not on %s:\n%s", q.name, q.index, p)
		}
		for range 6 {
			if _, err := c.Exec(t.Context(), q.name, hotArgs...); err != nil {
				t.Fatal(err)
			}
		}
		if p := plan(); !strings.Contains(p, "model = $1") {
			t.Errorf("%s: PostgreSQL kept planning the rare model for itself after 6 runs of the hot one (the hazard this test shows is gone from this server):\n%s", q.name, p)
		}
	}

	// The store's reads: hot five times and more, then rare, on one
	// connection; none leaves a statement prepared for PostgreSQL to
	// plan once for all.
	for range 6 {
		if _, err := s.CountRequests(t.Context(), hot); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RequestUsage(t.Context(), hotV); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.CountRequests(t.Context(), rare)
	if err != nil || len(counts) != 1 || counts[0].Count != 2000 {
		t.Fatalf("CountRequests of the rare model: %v, %v; want v2: 2000", counts, err)
	}
	usage, err := s.RequestUsage(t.Context(), rareV)
	if err != nil || len(usage) != 1 || usage[0].Requests != 2000 {
		t.Fatalf("RequestUsage of the rare version: %v, %v; want 2000 requests", usage, err)
	}
	prepared, err := s.PreparedStatements(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prepared {
		if strings.Contains(p, "FROM requests") {
			t.Errorf("a read of the request log stays prepared on the connection, for PostgreSQL to plan once for any model after five runs:\n%s", p)
		}
	}
}

// literals writes args as SQL literals, for EXECUTE over the simple
// protocol.
func literals(args []any) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			out[i] = "'" + v.UTC().Format(time.RFC3339Nano) + "'"
		case string:
			out[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		default:
			out[i] = "'" + strings.ReplaceAll(fmt.Sprint(v), "'", "''") + "'"
		}
	}
	return strings.Join(out, ", ")
}
