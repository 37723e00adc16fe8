package postgres_test

import (
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestRequests_RetryBudgetSpentBefore0035: rows a gateway wrote before
// migration 0035 gave the request log its retry_budget_spent column read
// false once it ran, but for the failures one release marked with the
// finish reason "retry_budget", which read as flagged with no finish
// reason, as such a row is written now.
func TestRequests_RetryBudgetSpentBefore0035(t *testing.T) {
	dsn := pgtest.Schema(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The schema as it was before 0035, and rows as its gateways wrote.
	pgtest.Exec(t, dsn, `DELETE FROM schema_migrations WHERE version >= 35;
		DROP INDEX requests_client_key_at;
		ALTER TABLE requests DROP COLUMN retry_budget_spent;
		INSERT INTO requests (request_id, at, model, version, status, error_class, finish_reason) VALUES
			('req_ok', now(), 'chat', 'v1', 200, '', 'stop'),
			('req_failed', now(), 'chat', 'v2', 502, 'upstream_5xx', ''),
			('req_budget', now(), 'chat', 'v2', 429, 'upstream_overloaded', 'retry_budget')`)
	if s, err = postgres.Open(t.Context(), dsn); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Requests(t.Context(), sluice.RequestQuery{})
	if err != nil || len(rows) != 3 {
		t.Fatalf("Requests: %d rows, %v; want 3", len(rows), err)
	}
	want := map[string]struct {
		spent  bool
		finish string
	}{"req_ok": {false, "stop"}, "req_failed": {false, ""}, "req_budget": {true, ""}}
	for _, o := range rows {
		if w := want[o.RequestID]; o.RetryBudgetSpent != w.spent || o.FinishReason != w.finish {
			t.Errorf("row %s written before 0035: retry_budget_spent %v, finish_reason %q; want %v, %q",
				o.RequestID, o.RetryBudgetSpent, o.FinishReason, w.spent, w.finish)
		}
	}
}
