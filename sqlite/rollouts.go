package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// putRollout creates or replaces rollout r by ID and makes it its model's
// latest.
func putRollout(ctx context.Context, tx *sql.Tx, r sluice.Rollout) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("rollout %s: encode: %w", r.ID, err)
	}
	started, err := timeArg("rollout "+r.ID+" started_at", r.StartedAt)
	if err != nil {
		return err
	}
	updated, err := timeArg("rollout "+r.ID+" updated_at", r.UpdatedAt)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO rollouts (id, model, phase, seq, started_at, updated_at, doc)
		VALUES (?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM rollouts), ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET model = excluded.model, phase = excluded.phase, seq = excluded.seq,
			started_at = excluded.started_at, updated_at = excluded.updated_at, doc = excluded.doc`,
		r.ID, r.Spec.Model, string(r.Phase), started, updated, string(doc))
	if err != nil {
		if isForeignKey(err) {
			return sluice.Errorf(sluice.CodeInvalid, "rollout %s is for model %s, which is not registered: register the model first", r.ID, r.Spec.Model)
		}
		return fmt.Errorf("write rollout %s: %w", r.ID, err)
	}
	return nil
}

// loadRollouts reads each model's latest rollout into reg.
func loadRollouts(ctx context.Context, tx *sql.Tx, reg *sluice.Registry) error {
	rows, err := tx.QueryContext(ctx, `SELECT r.id, r.doc FROM rollouts r
		WHERE r.seq = (SELECT MAX(seq) FROM rollouts WHERE model = r.model)`)
	if err != nil {
		return fmt.Errorf("read rollouts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, doc string
		if err := rows.Scan(&id, &doc); err != nil {
			return fmt.Errorf("read rollouts: %w", err)
		}
		var r sluice.Rollout
		if err := json.Unmarshal([]byte(doc), &r); err != nil {
			return sluice.Errorf(sluice.CodeInternal, "the stored rollout %s is not valid JSON (%v): the store file was edited by hand or is damaged", id, err)
		}
		utcRollout(&r)
		reg.Rollouts[r.Spec.Model] = &r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rollouts: %w", err)
	}
	return nil
}

// utcRollout puts a rollout's times in UTC, like every other time the store
// returns; JSON keeps the instant but also the writer's zone offset.
func utcRollout(r *sluice.Rollout) {
	for _, t := range []*time.Time{&r.StartedAt, &r.LiveAt, &r.StageStartedAt, &r.UpdatedAt, &r.EndedAt, &r.PausedAt, &r.HoldFrom} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	for i := range r.Events {
		if !r.Events[i].At.IsZero() {
			r.Events[i].At = r.Events[i].At.UTC()
		}
	}
}

// RolloutHistory returns q.Model's rollouts matching q, newest first (by
// seq, the order they were last written), or with no q.Model every
// model's, newest started first.
func (s *Store) RolloutHistory(ctx context.Context, q sluice.RolloutQuery) ([]sluice.Rollout, error) {
	query, args := historyQuery(q)
	var out []sluice.Rollout
	err := s.read(ctx, "read rollout history", func(tx *sql.Tx) error {
		out = out[:0]
		if q.Before != "" {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM rollouts WHERE id = ? AND (? = '' OR model = ?)", q.Before, q.Model, q.Model).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return q.ErrNoBefore()
			}
		}
		rows, err := tx.QueryContext(ctx, query, args...)
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
				return sluice.Errorf(sluice.CodeInternal, "the stored rollout %s is not valid JSON (%v): the store file was edited by hand or is damaged", id, err)
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
// filtered by "model = ?" alone, never "(? = ” OR model = ?)": SQLite
// cannot use rollouts_model_seq for the latter, and read every rollout,
// then sorted the model's whole history, documents and all, to return a
// page of it. Every model's is read through rollouts_started_seq
// (migration 0012), whose expressions its ORDER BY and its page's start
// repeat word for word, as SQLite matches an indexed expression by its
// text.
func historyQuery(q sluice.RolloutQuery) (string, []any) {
	query := "SELECT id, doc FROM rollouts WHERE true"
	var args []any
	if q.Model != "" {
		query += " AND model = ?"
		args = append(args, q.Model)
	}
	if q.ID != "" {
		query += " AND id = ?"
		args = append(args, q.ID)
	}
	// Across models seq is the order of the last writes, and a live
	// rollout is written at each analysis: every model's are ordered by
	// their start, seq breaking ties.
	order := " ORDER BY seq DESC"
	if q.Model == "" {
		order = " ORDER BY COALESCE(started_at, 0) DESC, seq DESC"
	}
	if q.Before != "" {
		if q.Model != "" {
			query += " AND seq < (SELECT seq FROM rollouts WHERE id = ? AND model = ?)"
			args = append(args, q.Before, q.Model)
		} else {
			// The first term, implied by the second, is the one SQLite
			// can search rollouts_started_seq with: by the row alone it
			// read the index from the newest rollout down to the page.
			query += " AND COALESCE(started_at, 0) <= (SELECT COALESCE(started_at, 0) FROM rollouts WHERE id = ?)" +
				" AND (COALESCE(started_at, 0), seq) < (SELECT COALESCE(started_at, 0), seq FROM rollouts WHERE id = ?)"
			args = append(args, q.Before, q.Before)
		}
	}
	query += order
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	return query, args
}
