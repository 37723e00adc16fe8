package postgres

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// RolloutHistory returns q.Model's rollouts matching q, newest first (by
// seq, the order they were last written), or with no q.Model every
// model's, newest started first; read from one snapshot.
func (s *Store) RolloutHistory(ctx context.Context, q sluice.RolloutQuery) ([]sluice.Rollout, error) {
	query, args := historyQuery(q)
	var out []sluice.Rollout
	err := s.read(ctx, "read rollout history", func(tx pgx.Tx) error {
		out = out[:0]
		if q.Before != "" {
			var found bool
			exists, eargs := "SELECT EXISTS (SELECT 1 FROM rollouts WHERE id = $1)", []any{q.Before}
			if q.Model != "" {
				exists, eargs = "SELECT EXISTS (SELECT 1 FROM rollouts WHERE id = $1 AND model = $2)", []any{q.Before, q.Model}
			}
			if err := tx.QueryRow(ctx, exists, eargs...).Scan(&found); err != nil {
				return err
			}
			if !found {
				return q.ErrNoBefore()
			}
		}
		rows, err := tx.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, doc string
			if err := rows.Scan(&id, &doc); err != nil {
				return err
			}
			var r sluice.Rollout
			if err := json.Unmarshal([]byte(doc), &r); err != nil {
				return sluice.Errorf(sluice.CodeInternal, "the stored rollout %s is not valid JSON (%v): the database was edited by hand or is damaged", id, err)
			}
			utcRollout(&r)
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// historyQuery is RolloutHistory's query of q. A model's history is
// filtered by "model = $1" alone, never "($1 = ” OR model = $1)": pgx
// prepares its statements, and once PostgreSQL switches a prepared
// statement to its generic plan, that form cannot search the (model, seq)
// index, and a model's page would read every rollout. Every model's is
// read backwards through rollouts_started_seq (migration 0015), whose
// expressions its ORDER BY and its page's start repeat: change them
// together.
func historyQuery(q sluice.RolloutQuery) (string, []any) {
	query := "SELECT id, doc FROM rollouts WHERE TRUE"
	var args []any
	if q.Model != "" {
		args = append(args, q.Model)
		query += " AND model = $1"
	}
	if q.ID != "" {
		args = append(args, q.ID)
		query += " AND id = $" + strconv.Itoa(len(args))
	}
	// Across models seq is the order of the last writes, and a live
	// rollout is written at each analysis: every model's are ordered by
	// their start, seq breaking ties.
	order := " ORDER BY seq DESC"
	if q.Model == "" {
		order = " ORDER BY COALESCE(started_at, '-infinity') DESC, seq DESC"
	}
	if q.Before != "" {
		args = append(args, q.Before)
		n := strconv.Itoa(len(args))
		if q.Model != "" {
			query += " AND seq < (SELECT seq FROM rollouts WHERE id = $" + n + " AND model = $1)"
		} else {
			query += " AND (COALESCE(started_at, '-infinity'), seq) < (SELECT COALESCE(started_at, '-infinity'), seq FROM rollouts WHERE id = $" + n + ")"
		}
	}
	query += order
	if q.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(q.Limit)
	}
	return query, args
}
