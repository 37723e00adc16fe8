package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_JudgeGradesAnswers: with a judge configured, a sample of
// answers is graded off the request path and the grades reach the
// version's quality window as the "judge" source.
func TestGateway_JudgeGradesAnswers(t *testing.T) {
	judge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"j","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Score: 8"},"finish_reason":"stop"}]}`)
	}))
	defer judge.Close()
	b := MustBackend(t, fakellm.Config{})
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "s.db")
	cfg.Judge = config.Judge{Endpoint: judge.URL, Model: "grader", SampleRate: 1}
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	defer gw.Shutdown(context.Background())
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	if _, err := gw.Control.Do(context.Background(), "t", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		r, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"what is 2+2?"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		w := gw.Recorder.Window("chat", "v1.0.0", "", time.Now().Add(-time.Minute))
		if got := w.QualityBySource[observe.SourceJudge]; len(got) >= 10 {
			if got[0] != 0.8 {
				t.Fatalf("judge grade %v, want 0.8", got[0])
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no judge grades reached the quality window in 10 s")
}
