package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sluicehq/sluice"
)

// AddJudgeGrade records g, the judge's grade of the answer g.RequestID of
// g.Version, taken at g.At, with what it is counted for, in one write
// transaction; a grade of that answer already stored stays. Grades are
// pruned with the request log (PruneRequests), by g.At.
func (s *Store) AddJudgeGrade(ctx context.Context, g sluice.JudgeGrade) error {
	at := g.At
	if at.IsZero() {
		at = s.now()
	}
	v, err := nanos("judge grade of request "+g.RequestID+" time", at)
	if err != nil {
		return err
	}
	ans, err := nanos("judge grade of request "+g.RequestID+" answer time", g.AnsweredAt)
	if err != nil {
		return err
	}
	return s.write(ctx, "store judge grade", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO judge_grades ("+ratingCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
			g.RequestID, v, g.Model, g.Version, g.Category, g.Route, ans, g.Score)
		return err
	})
}

// JudgeGrades returns the stored grades matching q, oldest answer first.
func (s *Store) JudgeGrades(ctx context.Context, q sluice.FeedbackQuery) ([]sluice.JudgeGrade, error) {
	return readRatings[sluice.JudgeGrade](ctx, s, gradeTable, q)
}

// exportGrades reads every stored judge grade into d, in the order they
// were taken.
func exportGrades(ctx context.Context, tx *sql.Tx, d *sluice.StoreDump) error {
	var err error
	if d.Grades, err = ratingsIn[sluice.JudgeGrade](ctx, tx, nil, "SELECT "+ratingCols+" FROM judge_grades ORDER BY at, request_id, version"); err != nil {
		return fmt.Errorf("read the judge's grades: %w", err)
	}
	return nil
}

// importGrades writes the grades gs as they were stored.
func importGrades(ctx context.Context, tx *sql.Tx, gs []sluice.JudgeGrade) error {
	return importRatings(ctx, tx, gradeTable, gs)
}
