package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sluicehq/sluice"
)

// ClaimFeedback records f, the one user feedback of the answer with
// request id f.RequestID, taken at f.At, with its score and what it is
// counted for (the answer's model, version, category, route and time), and
// reports whether this call recorded it: false when a rating of the same
// id was there already, whose score stays. One INSERT of the id as the
// primary key, in one write transaction. Ratings are pruned with the
// request log (PruneRequests), by f.At.
func (s *Store) ClaimFeedback(ctx context.Context, f sluice.Feedback) (bool, error) {
	at := f.At
	if at.IsZero() {
		at = s.now()
	}
	v, err := nanos("feedback of request "+f.RequestID+" time", at)
	if err != nil {
		return false, err
	}
	ans, err := nanos("feedback of request "+f.RequestID+" answer time", f.AnsweredAt)
	if err != nil {
		return false, err
	}
	var claimed bool
	err = s.write(ctx, "claim feedback", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO request_feedback (request_id, at, model, version, category, route, answered_at, score)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			f.RequestID, v, f.Model, f.Version, f.Category, f.Route, ans, f.Score)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil {
		return false, err
	}
	return claimed, nil
}

// Feedback returns the stored ratings matching q, oldest answer first.
func (s *Store) Feedback(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.Feedback, error) {
	if q.Model == "" {
		return nil, sluice.Errorf(sluice.CodeInvalid, "a read of users' feedback names its model")
	}
	query := "SELECT " + feedbackCols + " FROM request_feedback WHERE model = ?"
	args := []any{q.Model}
	add := func(cond string, t time.Time) {
		if !t.IsZero() {
			query += " AND " + cond + " ?"
			args = append(args, boundArg(t))
		}
	}
	add("answered_at >=", q.Since)
	add("answered_at <", q.Until)
	add("at >", q.RatedAfter)
	query += " ORDER BY answered_at, at, request_id"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	var out []sluice.Feedback
	err := s.read(ctx, "read feedback", func(tx *sql.Tx) error {
		var err error
		out, err = feedbackIn(ctx, tx, out[:0], query, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UnscoredFeedback is 0: every rating this store keeps has its score
// (the table came with them, 0025).
func (s *Store) UnscoredFeedback(context.Context, time.Time) (int64, error) { return 0, nil }

// feedbackCols are the columns feedbackIn scans, in its order.
const feedbackCols = "request_id, at, model, version, category, route, answered_at, score"

// feedbackIn appends to out the ratings query (selecting feedbackCols)
// reads in tx.
func feedbackIn(ctx context.Context, tx *sql.Tx, out []sluice.Feedback, query string, args ...any) ([]sluice.Feedback, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var f sluice.Feedback
		var at, ans int64
		if err := rows.Scan(&f.RequestID, &at, &f.Model, &f.Version, &f.Category, &f.Route, &ans, &f.Score); err != nil {
			return out, err
		}
		f.At, f.AnsweredAt = time.Unix(0, at).UTC(), time.Unix(0, ans).UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// exportFeedback reads every stored rating into d, in the order they
// arrived.
func exportFeedback(ctx context.Context, tx *sql.Tx, d *sluice.StoreDump) error {
	var err error
	if d.Feedback, err = feedbackIn(ctx, tx, nil, "SELECT "+feedbackCols+" FROM request_feedback ORDER BY at, request_id"); err != nil {
		return fmt.Errorf("read users' ratings: %w", err)
	}
	return nil
}

// importFeedback writes the ratings fs as they were stored.
func importFeedback(ctx context.Context, tx *sql.Tx, fs []sluice.Feedback) error {
	if len(fs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO request_feedback ("+feedbackCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("write users' ratings: %w", err)
	}
	defer stmt.Close()
	for _, f := range fs {
		at, err := nanos("rating of request "+f.RequestID+" time", f.At)
		if err != nil {
			return err
		}
		ans, err := nanos("rating of request "+f.RequestID+" answer time", f.AnsweredAt)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, f.RequestID, at, f.Model, f.Version, f.Category, f.Route, ans, f.Score); err != nil {
			return fmt.Errorf("write the rating of request %s: %w", f.RequestID, err)
		}
	}
	return nil
}
