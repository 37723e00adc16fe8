package judge_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/judge"
)

func TestParseScore(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"Score: 8", 8, true},
		{"score:10", 10, true},
		{"**Score:** 7", 7, true},
		{"SCORE = 3", 3, true},
		{"The score is 6.5.", 6.5, true},
		{"The answer has 3 mistakes. Score: 4", 4, true},
		{"A first score: 2, after thought. Score: 9", 9, true},
		{"I would rate it 7/10.", 7, true},
		{"7 out of 10", 7, true},
		{"9", 9, true},
		{" 0 ", 0, true},
		{"Good answer, I give it 8.", 8, true},
		{"Score: 11", 0, false},
		{"Score: -2", 0, false},
		{"the model answers your question with a short and careful explanation", 0, false},
		{"between 3 and 5", 0, false},
		{"gpt4 did fine", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := judge.ParseScore(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseScore(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// grades records what a Judge reports.
type grades struct {
	mu  sync.Mutex
	got []string
	ch  chan struct{}
}

func newGrades() *grades { return &grades{ch: make(chan struct{}, 100)} }

func (g *grades) record(model, version, category, route string, at time.Time, score float64) {
	g.mu.Lock()
	g.got = append(g.got, model+"/"+version+"/"+category+"="+strconv.FormatFloat(score, 'g', -1, 64))
	g.mu.Unlock()
	g.ch <- struct{}{}
}

// waitFor waits until cond holds or fails the test after 5 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJudge_Submit(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		var mu sync.Mutex
		var bodies []string
		var auth string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, r.URL.Path+" "+string(b))
			auth = r.Header.Get("Authorization")
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"Score: 8"},"finish_reason":"stop"}]}`)
		}))
		defer srv.Close()
		g := newGrades()
		j := &judge.Judge{Endpoint: srv.URL + "/v1/", Model: "grader", APIKey: "sk-test", Record: g.record}
		defer j.Close()
		j.Submit(judge.Item{Model: "chat", Version: "v1", Category: "code", Prompt: "What is 2+2?", Answer: "4", At: time.Now()})
		<-g.ch
		if g.got[0] != "chat/v1/code=0.8" {
			t.Fatalf("recorded %v, want chat/v1/code=0.8", g.got)
		}
		mu.Lock()
		defer mu.Unlock()
		if !strings.HasPrefix(bodies[0], "/v1/chat/completions ") || !strings.Contains(bodies[0], `"model":"grader"`) ||
			!strings.Contains(bodies[0], "What is 2+2?") || !strings.Contains(bodies[0], `Answer:\n\u003c\u003c\u003c\n4\n`) {
			t.Fatalf("judge request = %s", bodies[0])
		}
		if auth != "Bearer sk-test" {
			t.Fatalf("Authorization = %q", auth)
		}
		if s := j.Stats(); s.Submitted != 1 || s.Scored != 1 {
			t.Fatalf("Stats = %+v", s)
		}
	})
	t.Run("UnparsedFakeLLM", func(t *testing.T) {
		// fakellm answers with generated words: no score to read, so the
		// item is dropped and counted, and nothing is recorded.
		be := fakellm.New(fakellm.Config{})
		if err := be.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		defer be.Close()
		g := newGrades()
		j := &judge.Judge{Endpoint: be.URL(), Model: "grader", Record: g.record}
		defer j.Close()
		for range 3 {
			j.Submit(judge.Item{Model: "chat", Version: "v1", Prompt: "hi", Answer: "hello"})
		}
		waitFor(t, "3 unparsed", func() bool { return j.Stats().Unparsed == 3 })
		if len(g.got) != 0 || be.Requests() != 3 {
			t.Fatalf("recorded %v after %d judge calls", g.got, be.Requests())
		}
	})
	t.Run("Failed", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"error":{"message":"overloaded"}}`, 503)
		}))
		defer srv.Close()
		j := &judge.Judge{Endpoint: srv.URL, Model: "grader"}
		defer j.Close()
		j.Submit(judge.Item{Model: "chat", Version: "v1"})
		waitFor(t, "a failure", func() bool { return j.Stats().Failed == 1 })
	})
	t.Run("DropsWhenFull", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			io.WriteString(w, `{"choices":[{"message":{"content":"Score: 5"}}]}`)
		}))
		defer srv.Close()
		defer close(release)
		j := &judge.Judge{Endpoint: srv.URL, Model: "grader", Queue: 2, Workers: 1}
		defer j.Close()
		start := time.Now()
		for range 20 {
			j.Submit(judge.Item{Model: "chat", Version: "v1"})
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("20 Submits took %v: Submit must not block", d)
		}
		s := j.Stats()
		if s.Submitted > 3 || s.Dropped < 17 || s.Submitted+s.Dropped != 20 {
			t.Fatalf("Stats = %+v, want at most 3 queued (1 in the worker, 2 waiting) and the rest dropped", s)
		}
	})
	t.Run("Sample", func(t *testing.T) {
		j := &judge.Judge{SampleRate: 0.25}
		n := 0
		for range 10000 {
			if j.Sample() {
				n++
			}
		}
		if n < 2200 || n > 2800 {
			t.Fatalf("sampled %d of 10000 at rate 0.25", n)
		}
		if !(&judge.Judge{SampleRate: 1}).Sample() {
			t.Fatal("rate 1 must sample every answer")
		}
	})
}
