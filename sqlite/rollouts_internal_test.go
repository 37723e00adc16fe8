package sqlite

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// A model's rollout history (the dashboard's History tab, sluice rollout
// history MODEL, each page of it) is read through rollouts_model_seq, as
// before every model's history could be read: SQLite's plan for the query
// RolloutHistory runs searches the index and needs no sort, so a page
// reads that page's rows, not every rollout of every model.
func TestRolloutHistory_ModelUsesIndex(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	for _, q := range []sluice.RolloutQuery{
		{Model: "chat", Limit: 21},
		{Model: "chat", Before: "chat-2", Limit: 21},
	} {
		got := historyPlan(t, s, q)
		if !strings.Contains(got, "USING INDEX rollouts_model_seq") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("history of %+v is read by plan %q; want a search of rollouts_model_seq and no sort", q, got)
		}
	}
}

// Every model's rollout history (sluice rollout history without a model,
// GET /admin/v1/rollouts?history=true, each page of it with before=) reads
// rollouts_started_seq backwards: ordered by start across models, it
// sorted the whole rollouts table, documents and all, to return a page of
// 20, as there was no index on started_at.
func TestRolloutHistory_EveryModelUsesIndex(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "sluice.db"), Options{})
	for _, q := range []sluice.RolloutQuery{
		{Limit: 21},
		{Before: "chat-2", Limit: 21},
	} {
		got := historyPlan(t, s, q)
		if !strings.Contains(got, "rollouts USING INDEX rollouts_started_seq") || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("every model's history of %+v is read by plan %q; want rollouts_started_seq, no sort", q, got)
		}
		if q.Before != "" && !strings.Contains(got, "SEARCH rollouts USING INDEX rollouts_started_seq") {
			t.Errorf("the page before %s is read by plan %q; want a search of rollouts_started_seq from that rollout on", q.Before, got)
		}
	}
}

// historyPlan returns SQLite's plan for the history query of q, its steps
// joined by "; ".
func historyPlan(t *testing.T, s *Store, q sluice.RolloutQuery) string {
	t.Helper()
	query, args := historyQuery(q)
	rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}
