package postgres

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// A model's rollout history (the dashboard's History tab, sluice rollout
// history MODEL, each page of it) searches rollouts_model_seq for the model
// under PostgreSQL's generic plan too, the plan a statement pgx prepared
// ends up with after a few runs: the "($1 = ” OR model = $1)" form of the
// query, which lets one statement serve every model's history, read every
// rollout of every model under that plan.
func TestRolloutHistory_ModelSearchesIndexGenericPlan(t *testing.T) {
	qs := []sluice.RolloutQuery{
		{Model: "chat", Limit: 21},
		{Model: "chat", Before: "chat-2", Limit: 21},
	}
	plans := historyPlans(t, qs)
	for i, q := range qs {
		got := plans[i]
		if !regexp.MustCompile(`rollouts_model_seq[^;]*; Index Cond: \(\(?model = \$1\)`).MatchString(got) {
			t.Errorf("history of %+v is read by plan %q; want a search of rollouts_model_seq on the model", q, got)
		}
	}
}

// Every model's rollout history (sluice rollout history without a model,
// GET /admin/v1/rollouts?history=true, each page of it with before=) reads
// rollouts_started_seq backwards under the generic plan too: ordered by
// start across models, it sorted the whole rollouts table, documents and
// all, to return a page of 20, as there was no index on started_at.
func TestRolloutHistory_EveryModelSearchesIndexGenericPlan(t *testing.T) {
	qs := []sluice.RolloutQuery{
		{Limit: 21},
		{Before: "chat-2", Limit: 21},
	}
	plans := historyPlans(t, qs)
	for i, q := range qs {
		got := plans[i]
		if !strings.Contains(got, "Index Scan Backward using rollouts_started_seq") || regexp.MustCompile(`(^|; )Sort`).MatchString(got) {
			t.Errorf("every model's history of %+v is read by plan %q; want rollouts_started_seq read backwards, no sort", q, got)
		}
		if q.Before != "" && !regexp.MustCompile(`rollouts_started_seq[^;]*; Index Cond: \(ROW\(`).MatchString(got) {
			t.Errorf("the page before %s is read by plan %q; want it to start in rollouts_started_seq (an Index Cond on the row), not filter every row", q.Before, got)
		}
	}
}

// historyPlans returns PostgreSQL's generic plan (the plan a statement pgx
// prepared ends up with after a few runs) for the history query of each
// of qs, its lines joined by "; ". Sequential scans are off: a tiny table
// is read whole by any plan, and with them off the plan shows whether an
// index can be searched.
func historyPlans(t *testing.T, qs []sluice.RolloutQuery) []string {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, set := range []string{"SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off"} {
		if _, err := conn.Exec(ctx, set); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.Exec(ctx, "RESET ALL")
	var out []string
	for i, q := range qs {
		query, args := historyQuery(q)
		name := "history" + string(rune('a'+i))
		if _, err := conn.Conn().Prepare(ctx, name, query); err != nil {
			t.Fatal(err)
		}
		explain := "EXPLAIN EXECUTE " + name
		if len(args) > 0 {
			lits := make([]string, len(args))
			for j, a := range args {
				lits[j] = "'" + a.(string) + "'"
			}
			explain += "(" + strings.Join(lits, ", ") + ")"
		}
		rows, err := conn.Query(ctx, explain)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(line))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(plan, "; "))
	}
	return out
}
