package judge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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

// TestJudge_KeepStoreHangs: the store hangs (a PostgreSQL behind a network
// partition holds each write up to its 15 s bound). Keep ran on the
// grading worker, so each grade held a worker for that long: 2 workers
// graded 2 answers and the rest waited or were dropped, and the judge's
// scores, which the live canary analysis reads from the windows, stopped
// with the store. Grading goes on at its pace now, every grade recorded;
// the store's writes wait in a bounded queue of their own, a grade that
// finds it full counted as not kept; Close stores those waiting, within
// its bound.
func TestJudge_KeepStoreHangs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"Score: 6"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	hang := make(chan struct{})
	var mu sync.Mutex
	var kept []string
	var unkept atomic.Int64
	g := newGrades()
	const queue = 4
	j := &judge.Judge{Endpoint: srv.URL, Model: "grader", Record: g.record, KeepQueue: queue, OnUnkept: func() { unkept.Add(1) },
		Keep: func(ctx context.Context, gr sluice.JudgeGrade) error {
			select {
			case <-hang:
			case <-ctx.Done():
				return ctx.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			kept = append(kept, gr.RequestID)
			return nil
		}}
	defer j.Close()
	const n = 20
	for i := range n {
		j.Submit(judge.Item{RequestID: fmt.Sprintf("req_%d", i), Model: "chat", Version: "v2", Prompt: "2+2?", Answer: "4"})
	}
	deadline := time.After(10 * time.Second)
	for i := range n {
		select {
		case <-g.ch:
		case <-deadline:
			t.Fatalf("%d of %d answers graded while the store hangs: grading waits on the store (stats %+v)", i, n, j.Stats())
		}
	}
	// One write hangs, queue wait behind it; the rest were not kept.
	waitFor(t, "the grades past the queue counted", func() bool { return j.Stats().Unkept == n-1-queue })
	if got := unkept.Load(); got != n-1-queue {
		t.Errorf("OnUnkept told of %d grades, want %d", got, n-1-queue)
	}
	close(hang)
	waitFor(t, "the waiting grades kept", func() bool { mu.Lock(); defer mu.Unlock(); return len(kept) == 1+queue })

	// Close stores the grades still waiting, as long as its context
	// lasts; then the rest are counted as not kept.
	for _, c := range []struct {
		name    string
		bounded bool
	}{{"Stores", false}, {"Bounded", true}} {
		t.Run(c.name, func(t *testing.T) {
			hang := make(chan struct{})
			var kept atomic.Int64
			j := &judge.Judge{Endpoint: srv.URL, Model: "grader", Record: func(string, string, string, string, time.Time, float64) {},
				Keep: func(ctx context.Context, gr sluice.JudgeGrade) error {
					select {
					case <-hang:
					case <-ctx.Done():
						return ctx.Err()
					}
					kept.Add(1)
					return nil
				}}
			for i := range 3 {
				j.Submit(judge.Item{RequestID: fmt.Sprintf("req_close_%d", i), Model: "chat", Version: "v2", Prompt: "2+2?", Answer: "4"})
			}
			waitFor(t, "the grades", func() bool { return j.Stats().Scored == 3 })
			ctx := context.Background()
			if c.bounded {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				cancel()
			} else {
				go func() { time.Sleep(20 * time.Millisecond); close(hang) }()
			}
			j.CloseContext(ctx)
			if c.bounded {
				if kept.Load() != 0 || j.Stats().Unkept != 3 {
					t.Errorf("closed at once with the store hung: %d kept, stats %+v; want none kept, 3 counted", kept.Load(), j.Stats())
				}
				return
			}
			if kept.Load() != 3 || j.Stats().Unkept != 0 {
				t.Errorf("after Close %d grades kept (stats %+v), want the 3 waiting", kept.Load(), j.Stats())
			}
		})
	}
}
