package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// RequestUsage sums the requests matching q per client key, model and
// version (rows of attempts retried on another version left out), ordered
// by key, model and version in byte order, in one GROUP BY; q.Limit is
// ignored.
//
// Planned at each run (planEach), as Requests is: the budgets read each
// budgeted key's usage every few seconds on the pool's connections, and
// after five runs of pgx's prepared statement PostgreSQL may take one plan
// for any model, version or key, which for a rare one behind a hot one
// reads the whole range of requests_at
// (TestCountRequests_RareModelPlannedForItself).
func (s *Store) RequestUsage(ctx context.Context, rq sluice.RequestQuery) ([]sluice.UsageRow, error) {
	sql, args := requestUsageSQL(rq)
	var out []sluice.UsageRow
	err := s.read(ctx, "sum request usage", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, sql, append([]any{planEach(tx)}, args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var u sluice.UsageRow
			if err := rows.Scan(&u.ClientKey, &u.Model, &u.Version, &u.Requests, &u.Errors, &u.Canceled,
				&u.InputTokens, &u.OutputTokens, &u.CachedTokens, &u.EstimatedTokens); err != nil {
				return err
			}
			out = append(out, u)
		}
		return rows.Err()
	})
	if err != nil || len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// requestUsageSQL is RequestUsage's query for rq and its arguments.
func requestUsageSQL(rq sluice.RequestQuery) (string, []any) {
	q := requestWhere(rq)
	q.add("NOT retried")
	return `SELECT client_key, model, version, COUNT(*),
		COUNT(*) FILTER (WHERE error_class NOT IN ('', 'canceled', 'drain_cut', 'bad_request')), COUNT(*) FILTER (WHERE error_class = 'canceled'),
		COALESCE(SUM(input_tokens), 0)::bigint, COALESCE(SUM(output_tokens), 0)::bigint, COALESCE(SUM(cached_tokens), 0)::bigint,
		COALESCE(SUM(input_tokens + output_tokens) FILTER (WHERE tokens_estimated), 0)::bigint
		FROM requests` + q.clause() + ` GROUP BY client_key, model, version
		ORDER BY client_key COLLATE "C", model COLLATE "C", version COLLATE "C"`, q.args
}
