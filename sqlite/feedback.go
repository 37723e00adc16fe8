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
	return readRatings[sluice.Feedback](ctx, s, feedbackTable, q)
}

// UnscoredFeedback is 0: every rating this store keeps has its score
// (the table came with them, 0025).
func (s *Store) UnscoredFeedback(context.Context, time.Time) (int64, error) { return 0, nil }

// ratingTable names a table of ratings, what its rows are in errors, and
// how a read of them (readRatings) filters and orders its rows.
type ratingTable struct {
	name, one, all string
	// read names the rows in the error of a read that names no model, and
	// op the read in the store's errors.
	read, op string
	// cond is appended to a read's WHERE; order is its ORDER BY.
	cond, order string
}

var (
	feedbackTable = ratingTable{name: "request_feedback", one: "rating", all: "users' ratings",
		read: "users' feedback", op: "read feedback", cond: "", order: "answered_at, at, request_id"}
	gradeTable = ratingTable{name: "judge_grades", one: "judge's grade", all: "the judge's grades",
		read: "the judge's grades", op: "read judge grades", order: "answered_at, at, request_id, version"}
)

// readRatings returns the ratings of t matching q, oldest answer first.
func readRatings[T sluice.Rating](ctx context.Context, s *Store, t ratingTable, q sluice.FeedbackQuery) ([]T, error) {
	if q.Model == "" {
		return nil, sluice.Errorf(sluice.CodeInvalid, "a read of %s names its model", t.read)
	}
	query := "SELECT " + ratingCols + " FROM " + t.name + " WHERE model = ?" + t.cond
	args := []any{q.Model}
	add := func(cond string, at time.Time) {
		if !at.IsZero() {
			query += " AND " + cond + " ?"
			args = append(args, boundArg(at))
		}
	}
	add("answered_at >=", q.Since)
	add("answered_at <", q.Until)
	add("at >", q.RatedAfter)
	query += " ORDER BY " + t.order
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	var out []T
	err := s.read(ctx, t.op, func(tx *sql.Tx) error {
		var err error
		out, err = ratingsIn(ctx, tx, out[:0], query, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ratingCols are the columns ratingsIn scans, in its order, of either
// table of ratings.
const ratingCols = "request_id, at, model, version, category, route, answered_at, score"

// ratingsIn appends to out the ratings or grades query (selecting
// ratingCols) reads in tx.
func ratingsIn[T sluice.Rating](ctx context.Context, tx *sql.Tx, out []T, query string, args ...any) ([]T, error) {
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
		out = append(out, T(f))
	}
	return out, rows.Err()
}

// exportFeedback reads every stored rating into d, in the order they
// arrived.
func exportFeedback(ctx context.Context, tx *sql.Tx, d *sluice.StoreDump) error {
	var err error
	if d.Feedback, err = ratingsIn[sluice.Feedback](ctx, tx, nil, "SELECT "+ratingCols+" FROM request_feedback ORDER BY at, request_id"); err != nil {
		return fmt.Errorf("read users' ratings: %w", err)
	}
	return nil
}

// importFeedback writes the ratings fs as they were stored.
func importFeedback(ctx context.Context, tx *sql.Tx, fs []sluice.Feedback) error {
	return importRatings(ctx, tx, feedbackTable, fs)
}

// importRatings writes rs into t as they were stored.
func importRatings[T sluice.Rating](ctx context.Context, tx *sql.Tx, t ratingTable, rs []T) error {
	if len(rs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO "+t.name+" ("+ratingCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return fmt.Errorf("write %s: %w", t.all, err)
	}
	defer stmt.Close()
	for _, r := range rs {
		f := sluice.Feedback(r)
		at, err := nanos(t.one+" of request "+f.RequestID+" time", f.At)
		if err != nil {
			return err
		}
		ans, err := nanos(t.one+" of request "+f.RequestID+" answer time", f.AnsweredAt)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, f.RequestID, at, f.Model, f.Version, f.Category, f.Route, ans, f.Score); err != nil {
			return fmt.Errorf("write the %s of request %s: %w", t.one, f.RequestID, err)
		}
	}
	return nil
}
