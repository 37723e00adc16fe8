package judge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/judge"
)

// TestJudge_Keep: each grade recorded is handed to Keep (the store) with
// the answer's request id, version, category, route and time, so that an
// A/B report drawn after a restart counts it; a grade Keep could not
// store is counted (Unkept) and still recorded.
func TestJudge_Keep(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"Score: 6"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	var mu sync.Mutex
	var kept []sluice.JudgeGrade
	fail := false
	g := newGrades()
	j := &judge.Judge{Endpoint: srv.URL, Model: "grader", Record: g.record, Keep: func(_ context.Context, gr sluice.JudgeGrade) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return errors.New("the store is down")
		}
		kept = append(kept, gr)
		return nil
	}}
	defer j.Close()
	at := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	j.Submit(judge.Item{RequestID: "req_1", Model: "chat", Version: "v2", Category: "code", Route: "split", Prompt: "2+2?", Answer: "4", At: at})
	<-g.ch
	waitFor(t, "the grade kept", func() bool { mu.Lock(); defer mu.Unlock(); return len(kept) == 1 })
	k := kept[0]
	if k.RequestID != "req_1" || k.Model != "chat" || k.Version != "v2" || k.Category != "code" || k.Route != "split" || !k.AnsweredAt.Equal(at) || k.Score != 0.6 || k.At.IsZero() {
		t.Errorf("kept %+v: want req_1's grade 0.6 of chat v2 in code, split, answered at %s", k, at)
	}
	mu.Lock()
	fail = true
	mu.Unlock()
	j.Submit(judge.Item{RequestID: "req_2", Model: "chat", Version: "v2", Prompt: "2+2?", Answer: "5", At: at})
	<-g.ch
	waitFor(t, "the grade not kept counted", func() bool { return j.Stats().Unkept == 1 })
	if s := j.Stats(); s.Scored != 2 {
		t.Errorf("stats %+v: want 2 scored", s)
	}
}
