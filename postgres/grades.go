package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluicehq/sluice"
)

// AddJudgeGrade records g, the judge's grade of the answer g.RequestID of
// g.Version, taken at g.At, with what it is counted for; a grade of that
// answer already stored stays (ON CONFLICT DO NOTHING), so a write sent
// again counts once. Grades are pruned with the request log
// (PruneRequests), by g.At.
func (s *Store) AddJudgeGrade(ctx context.Context, g sluice.JudgeGrade) error {
	at := g.At
	if at.IsZero() {
		at = s.now()
	}
	v, err := timeArg("judge grade of request "+g.RequestID+" time", at)
	if err != nil {
		return err
	}
	ans, err := timeArg("judge grade of request "+g.RequestID+" answer time", g.AnsweredAt)
	if err != nil {
		return err
	}
	return s.write(ctx, "store judge grade", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO judge_grades ("+gradeCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
			text(g.RequestID), v, text(g.Model), text(g.Version), text(g.Category), text(g.Route), ans, g.Score)
		return err
	})
}

// JudgeGrades returns the stored grades matching q, oldest answer first.
func (s *Store) JudgeGrades(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.JudgeGrade, error) {
	if q.Model == "" {
		return nil, sluice.Errorf(sluice.CodeInvalid, "a read of the judge's grades names its model")
	}
	sql := "SELECT " + gradeCols + " FROM judge_grades WHERE model = $1"
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
	sql += " ORDER BY answered_at, at, request_id, version"
	if q.Limit > 0 {
		sql += " LIMIT " + strconv.Itoa(q.Limit)
	}
	var out []sluice.JudgeGrade
	err := s.read(ctx, "read judge grades", func(tx pgx.Tx) error {
		var err error
		out, err = gradesIn(ctx, tx, out[:0], sql, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// gradeCols are the columns gradesIn scans, in its order.
const gradeCols = "request_id, at, model, version, category, route, answered_at, score"

// gradesIn appends to out the grades sql (selecting gradeCols) reads in
// tx.
func gradesIn(ctx context.Context, tx pgx.Tx, out []sluice.JudgeGrade, sql string, args ...any) ([]sluice.JudgeGrade, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var g sluice.JudgeGrade
		var at, ans time.Time
		if err := rows.Scan(&g.RequestID, &at, &g.Model, &g.Version, &g.Category, &g.Route, &ans, &g.Score); err != nil {
			return out, err
		}
		g.At, g.AnsweredAt = at.UTC(), ans.UTC()
		out = append(out, g)
	}
	return out, rows.Err()
}

// exportGrades reads every stored judge grade into d, in the order they
// were taken.
func exportGrades(ctx context.Context, tx pgx.Tx, d *sluice.StoreDump) error {
	var err error
	if d.Grades, err = gradesIn(ctx, tx, nil, "SELECT "+gradeCols+" FROM judge_grades ORDER BY at, request_id, version"); err != nil {
		return fmt.Errorf("read the judge's grades: %w", err)
	}
	return nil
}

// importGrades writes the grades gs as they were stored.
func importGrades(ctx context.Context, tx pgx.Tx, gs []sluice.JudgeGrade) error {
	for _, g := range gs {
		at, err := timeArg("judge grade of request "+g.RequestID+" time", g.At)
		if err != nil {
			return err
		}
		ans, err := timeArg("judge grade of request "+g.RequestID+" answer time", g.AnsweredAt)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO judge_grades ("+gradeCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
			text(g.RequestID), at, text(g.Model), text(g.Version), text(g.Category), text(g.Route), ans, g.Score); err != nil {
			return fmt.Errorf("write the judge's grade of request %s: %w", g.RequestID, err)
		}
	}
	return nil
}
