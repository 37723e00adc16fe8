package postgres

import (
	"context"
	"fmt"
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
	return readRatings[sluice.Feedback](ctx, s, feedbackTable, q)
}

// UnscoredFeedback counts the claims that arrived at or after since with
// no score (an older binary's: sluice.FeedbackStore).
func (s *Store) UnscoredFeedback(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	err := s.read(ctx, "count unscored feedback", func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, "SELECT count(*) FROM request_feedback WHERE score IS NULL AND at >= $1", boundArg(since)).Scan(&n)
	})
	return n, err
}

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
		read: "users' feedback", op: "read feedback", cond: " AND score IS NOT NULL", order: "answered_at, at, request_id"}
	gradeTable = ratingTable{name: "judge_grades", one: "judge's grade", all: "the judge's grades",
		read: "the judge's grades", op: "read judge grades", order: "answered_at, at, request_id, version"}
)

// readRatings returns the ratings of t matching q, oldest answer first.
func readRatings[T sluice.Rating](ctx context.Context, s *Store, t ratingTable, q sluice.FeedbackQuery) ([]T, error) {
	if q.Model == "" {
		return nil, sluice.Errorf(sluice.CodeInvalid, "a read of %s names its model", t.read)
	}
	sql := "SELECT " + ratingCols + " FROM " + t.name + " WHERE model = $1" + t.cond
	args := []any{text(q.Model)}
	add := func(cond string, at time.Time) {
		if !at.IsZero() {
			args = append(args, boundArg(at))
			sql += " AND " + cond + " $" + strconv.Itoa(len(args))
		}
	}
	add("answered_at >=", q.Since)
	add("answered_at <", q.Until)
	add("at >", q.RatedAfter)
	sql += " ORDER BY " + t.order
	if q.Limit > 0 {
		sql += " LIMIT " + strconv.Itoa(q.Limit)
	}
	var out []T
	err := s.read(ctx, t.op, func(tx pgx.Tx) error {
		var err error
		out, err = ratingsIn(ctx, tx, out[:0], sql, args...)
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

// ratingsIn appends to out the ratings or grades sql (selecting
// ratingCols) reads in tx.
func ratingsIn[T sluice.Rating](ctx context.Context, tx pgx.Tx, out []T, sql string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var f sluice.Feedback
		var at, ans time.Time
		if err := rows.Scan(&f.RequestID, &at, &f.Model, &f.Version, &f.Category, &f.Route, &ans, &f.Score); err != nil {
			return out, err
		}
		f.At, f.AnsweredAt = at.UTC(), ans.UTC()
		out = append(out, T(f))
	}
	return out, rows.Err()
}

// exportFeedback reads every stored rating with a score into d, in the
// order they arrived. A claim without one (written by a binary from
// before 0031) holds nothing a report can count, and is not copied.
func exportFeedback(ctx context.Context, tx pgx.Tx, d *sluice.StoreDump) error {
	var err error
	if d.Feedback, err = ratingsIn[sluice.Feedback](ctx, tx, nil, "SELECT "+ratingCols+" FROM request_feedback WHERE score IS NOT NULL ORDER BY at, request_id"); err != nil {
		return fmt.Errorf("read users' ratings: %w", err)
	}
	return nil
}

// importFeedback writes the ratings fs as they were stored.
func importFeedback(ctx context.Context, tx pgx.Tx, fs []sluice.Feedback) error {
	return importRatings(ctx, tx, feedbackTable, fs)
}

// importRatings writes rs into t as they were stored.
func importRatings[T sluice.Rating](ctx context.Context, tx pgx.Tx, t ratingTable, rs []T) error {
	for _, r := range rs {
		f := sluice.Feedback(r)
		at, err := timeArg(t.one+" of request "+f.RequestID+" time", f.At)
		if err != nil {
			return err
		}
		ans, err := timeArg(t.one+" of request "+f.RequestID+" answer time", f.AnsweredAt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+t.name+" ("+ratingCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			text(f.RequestID), at, text(f.Model), text(f.Version), text(f.Category), text(f.Route), ans, f.Score); err != nil {
			return fmt.Errorf("write the %s of request %s: %w", t.one, f.RequestID, err)
		}
	}
	return nil
}
