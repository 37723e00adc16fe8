package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// ClaimFeedback records f, the one user feedback of the answer with
// request id f.RequestID, taken at f.At, with its score and what it is
// counted for (the answer's model, version, category, route and time), and
// reports whether this call recorded it: false when a claim of the same id
// was there already (another replica, or this one, took its feedback
// first), whose score stays. The claim is one INSERT of the id as the
// primary key, so of two replicas claiming one id at once exactly one gets
// true. Claims are pruned with the request log (PruneRequests).
func (s *Store) ClaimFeedback(ctx context.Context, f sluice.Feedback) (bool, error) {
	at := f.At
	if at.IsZero() {
		at = s.now()
	}
	v, err := timeArg("feedback of request "+f.RequestID+" time", at)
	if err != nil {
		return false, err
	}
	ans, err := timeArg("feedback of request "+f.RequestID+" answer time", f.AnsweredAt)
	if err != nil {
		return false, err
	}
	var claimed bool
	err = s.write(ctx, "claim feedback", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO request_feedback (request_id, at, model, version, category, route, answered_at, score)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
			text(f.RequestID), v, text(f.Model), text(f.Version), text(f.Category), text(f.Route), ans, f.Score)
		claimed = err == nil && tag.RowsAffected() == 1
		return err
	})
	if err != nil {
		return false, err
	}
	return claimed, nil
}

// Feedback returns the stored ratings matching q, oldest answer first.
// Claims an older binary wrote (no score) are left out.
func (s *Store) Feedback(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.Feedback, error) {
	if q.Model == "" {
		return nil, sluice.Errorf(sluice.CodeInvalid, "a read of users' feedback names its model")
	}
	sql := `SELECT request_id, at, model, version, category, route, answered_at, score FROM request_feedback
		WHERE model = $1 AND score IS NOT NULL`
	args := []any{text(q.Model)}
	add := func(cond string, t time.Time) {
		if !t.IsZero() {
			args = append(args, boundArg(t))
			sql += " AND " + cond + " $" + strconv.Itoa(len(args))
		}
	}
	add("answered_at >=", q.Since)
	add("answered_at <", q.Until)
	add("at >", q.RatedAfter)
	sql += " ORDER BY answered_at, at, request_id"
	if q.Limit > 0 {
		sql += " LIMIT " + strconv.Itoa(q.Limit)
	}
	var out []sluice.Feedback
	err := s.read(ctx, "read feedback", func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var f sluice.Feedback
			var at, ans time.Time
			if err := rows.Scan(&f.RequestID, &at, &f.Model, &f.Version, &f.Category, &f.Route, &ans, &f.Score); err != nil {
				return err
			}
			f.At, f.AnsweredAt = at.UTC(), ans.UTC()
			out = append(out, f)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
