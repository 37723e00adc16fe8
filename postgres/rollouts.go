package postgres

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// RolloutHistory returns q.Model's rollouts matching q, newest first (by
// seq, the order they were last written), read from one snapshot.
func (s *Store) RolloutHistory(ctx context.Context, q sluice.RolloutQuery) ([]sluice.Rollout, error) {
	query := "SELECT id, doc FROM rollouts WHERE model = $1"
	args := []any{q.Model}
	if q.ID != "" {
		args = append(args, q.ID)
		query += " AND id = $" + strconv.Itoa(len(args))
	}
	if q.Before != "" {
		args = append(args, q.Before)
		query += " AND seq < (SELECT seq FROM rollouts WHERE id = $" + strconv.Itoa(len(args)) + " AND model = $1)"
	}
	query += " ORDER BY seq DESC"
	if q.Limit > 0 {
		query += " LIMIT " + strconv.Itoa(q.Limit)
	}
	var out []sluice.Rollout
	err := s.read(ctx, "read rollout history", func(tx pgx.Tx) error {
		out = out[:0]
		if q.Before != "" {
			var found bool
			if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM rollouts WHERE id = $1 AND model = $2)", q.Before, q.Model).Scan(&found); err != nil {
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
