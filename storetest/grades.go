package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

var gradeTests = []test{
	{"AddAndReadBack", testGradesRoundTrip},
	{"Prune", testGradesPrune},
}

// testGradesRoundTrip: a judge's grade is kept with what it counts for,
// read back by its model and its answer's time, oldest answer first; the
// same answer's grade written again is dropped, the first kept; the live
// answer and its mirrored candidate's, under one request id, are two.
func testGradesRoundTrip(t *testing.T, s sluice.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	grades := []sluice.JudgeGrade{
		{RequestID: "req_0a1b2c3d4e5f_9", Model: "chat", Version: "v2", Category: "billing", Route: "split", AnsweredAt: t0.Add(3 * time.Second), Score: 0.3, At: t0.Add(10 * time.Second)},
		{RequestID: "req_0a1b2c3d4e5f_7", Model: "chat", Version: "v1", Route: "pin", AnsweredAt: t0.Add(time.Second), Score: 0.8, At: t0.Add(20 * time.Second)},
		{RequestID: "req_0a1b2c3d4e5f_7", Model: "chat", Version: "v2", Route: "shadow", AnsweredAt: t0.Add(time.Second), Score: 0.6, At: t0.Add(21 * time.Second)},
		{RequestID: "req_0a1b2c3d4e5f_8", Model: "chat", Version: "v1", Route: "split", AnsweredAt: t0.Add(2 * time.Second), Score: 1, At: t0.Add(time.Minute)},
		{RequestID: "req_0a1b2c3d4e5f_a", Model: "embed", Version: "e1", AnsweredAt: t0.Add(time.Second), Score: 1, At: t0.Add(time.Minute)},
	}
	for _, g := range grades {
		if err := s.AddJudgeGrade(ctx, g); err != nil {
			t.Fatalf("add the grade of %s (%s): %v", g.RequestID, g.Version, err)
		}
	}
	again := grades[0]
	again.Score, again.At = 1, t0.Add(time.Hour)
	if err := s.AddJudgeGrade(ctx, again); err != nil {
		t.Fatalf("the grade of %s again: %v, want dropped without an error", again.RequestID, err)
	}
	got, err := s.JudgeGrades(ctx, sluice.FeedbackQuery{Model: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []sluice.JudgeGrade{grades[1], grades[2], grades[3], grades[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("grades of chat:\n got %+v\nwant %+v", got, want)
	}
	got, err = s.JudgeGrades(ctx, sluice.FeedbackQuery{Model: "chat", Since: t0.Add(2 * time.Second), Until: t0.Add(3 * time.Second)})
	if err != nil || len(got) != 1 || got[0].RequestID != "req_0a1b2c3d4e5f_8" {
		t.Errorf("grades of answers from 2 s to before 3 s: %+v (%v), want req_0a1b2c3d4e5f_8", got, err)
	}
	got, err = s.JudgeGrades(ctx, sluice.FeedbackQuery{Model: "chat", RatedAfter: t0.Add(20 * time.Second), Limit: 1})
	if err != nil || len(got) != 1 || got[0].Version != "v2" || got[0].RequestID != "req_0a1b2c3d4e5f_7" {
		t.Errorf("the first grade taken after 20 s: %+v (%v), want the mirrored answer of req_0a1b2c3d4e5f_7", got, err)
	}
	if _, err := s.JudgeGrades(ctx, sluice.FeedbackQuery{}); sluice.ErrorCode(err) != sluice.CodeInvalid {
		t.Errorf("a read naming no model: %v, want CodeInvalid", err)
	}
}

// testGradesPrune: grades go with the request log's rows, by the time
// each was taken.
func testGradesPrune(t *testing.T, s sluice.Store) {
	ctx := context.Background()
	testRatingsPrune(t, func(g sluice.JudgeGrade) error { return s.AddJudgeGrade(ctx, g) },
		func() ([]sluice.JudgeGrade, error) { return s.JudgeGrades(ctx, sluice.FeedbackQuery{Model: "chat"}) }, s)
}
