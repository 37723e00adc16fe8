package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/judge"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

func TestHeuristicScore(t *testing.T) {
	tests := []struct {
		name     string
		o        sluice.Observation
		toolCall bool
		want     float64
	}{
		{"OK", sluice.Observation{ResponseChars: 10, FinishReason: "stop"}, false, 1},
		{"Refusal", sluice.Observation{ResponseChars: 10, Refusal: true}, false, 0},
		{"Empty", sluice.Observation{FinishReason: "stop"}, false, 0},
		{"CutOff", sluice.Observation{ResponseChars: 10, FinishReason: "length"}, false, 0.5},
		{"ToolCallsFinish", sluice.Observation{FinishReason: "tool_calls"}, false, 1},
		{"ForcedToolCall", sluice.Observation{FinishReason: "stop"}, true, 1},
		{"ToolCallCutOff", sluice.Observation{FinishReason: "length"}, true, 0.5},
		{"EmptyCutOff", sluice.Observation{FinishReason: "length"}, false, 0},
	}
	for _, tt := range tests {
		if got := proxy.HeuristicScore(&tt.o, tt.toolCall); got != tt.want {
			t.Errorf("%s: HeuristicScore = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestProxy_HeuristicQuality(t *testing.T) {
	be := MustBackend(t, fakellm.Config{Categories: map[string]fakellm.Behavior{
		"refuse": {RefusalRate: 1},
		"fail":   {ErrorRate: 1},
	}})
	t.Run("OK", func(t *testing.T) {
		rec := observe.New(observe.Options{})
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Recorder: rec, Refusal: observe.NewRefusalDetector(nil), NoRetry: true})
		for range 3 {
			chat(t, url, "chat", "X-Request-Category", "good")
			chat(t, url, "chat", "X-Request-Category", "refuse")
			post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`, "X-Request-Category", "fail")
		}
		post(t, url, "/v1/chat/completions", `{"model":"chat","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}`, "X-Request-Category", "cut")
		post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "X-Request-Category", "stream")
		post(t, url, "/v1/embeddings", `{"model":"chat","input":"hi"}`, "X-Request-Category", "embed")
		for cat, want := range map[string][]float64{
			"good": {1, 1, 1}, "refuse": {0, 0, 0}, "fail": nil, "cut": {0.5}, "stream": {1}, "embed": nil,
		} {
			w := rec.Window("chat", "v1", cat, time.Time{})
			if got := w.QualityBySource["heuristic"]; !slices.Equal(got, want) {
				t.Errorf("%s: heuristic scores %v, want %v", cat, got, want)
			}
		}
	})
	t.Run("Off", func(t *testing.T) {
		rec := observe.New(observe.Options{})
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Recorder: rec, NoHeuristicQuality: true})
		chat(t, url, "chat")
		if w := rec.Window("chat", "v1", "", time.Time{}); w.Requests != 1 || w.Quality != nil {
			t.Fatalf("with NoHeuristicQuality: %d requests, quality %v", w.Requests, w.Quality)
		}
	})
}

// gradingServer is an OpenAI-compatible judge that answers "Score: 8" and
// keeps the grading prompts it was sent.
type gradingServer struct {
	*httptest.Server
	mu      sync.Mutex
	prompts []string
}

func newGradingServer(tb testing.TB) *gradingServer {
	g := &gradingServer{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.prompts = append(g.prompts, string(b))
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"Score: 8"},"finish_reason":"stop"}]}`)
	}))
	tb.Cleanup(g.Close)
	return g
}

func (g *gradingServer) all() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.prompts)
}

func TestProxy_Judge(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		be := MustBackend(t, fakellm.Config{})
		g := newGradingServer(t)
		rec := observe.New(observe.Options{})
		j := &judge.Judge{Endpoint: g.URL, Model: "grader", SampleRate: 1, Record: rec.QualityRecorder(observe.SourceJudge)}
		defer j.Close()
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Recorder: rec, Judge: j})
		body := `{"model":"chat","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"first question"},` +
			`{"role":"assistant","content":"first answer"},{"role":"user","content":[{"type":"text","text":"the last question"}]}]}`
		for range 4 {
			if resp, b := post(t, url, "/v1/chat/completions", body, "X-Request-Category", "qa"); resp.StatusCode != 200 {
				t.Fatalf("chat: %d %s", resp.StatusCode, b)
			}
		}
		waitFor(t, "4 grades", func() bool { return j.Stats().Scored == 4 })
		if got := rec.Window("chat", "v1", "qa", time.Time{}).QualityBySource["judge"]; !slices.Equal(got, []float64{0.8, 0.8, 0.8, 0.8}) {
			t.Fatalf("judge scores = %v", got)
		}
		// The grades carry their request's route (the model's policy
		// here, not a split): a canary's analysis of the split leaves them
		// out with the requests.
		if got := rec.Randomized("chat", "v1", "qa", time.Time{}).QualityBySource["judge"]; got != nil {
			t.Fatalf("judge scores of requests the policy routed, in the randomized sample: %v", got)
		}
		p := g.all()[0]
		answer := fakellm.GeneratedText(fakellm.DefaultOutputTokens)
		if !strings.Contains(p, "the last question") || strings.Contains(p, "first question") || !strings.Contains(p, answer) {
			t.Fatalf("grading request %s: want the last user message and the answer %q", p, answer)
		}
	})
	t.Run("Shadow", func(t *testing.T) {
		// A judged request that is mirrored has both answers graded.
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{})
		g := newGradingServer(t)
		rec := observe.New(observe.Options{})
		j := &judge.Judge{Endpoint: g.URL, Model: "grader", SampleRate: 1, Record: rec.QualityRecorder(observe.SourceJudge)}
		defer j.Close()
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: rec, Judge: j})
		p.SetShadow("chat", "chat:v2", 1)
		chat(t, url, "chat")
		waitFor(t, "2 grades", func() bool { return j.Stats().Scored == 2 })
		for _, v := range []string{"v1", "v2"} {
			if got := rec.Window("chat", v, "", time.Time{}).QualityBySource["judge"]; !slices.Equal(got, []float64{0.8}) {
				t.Fatalf("%s judge scores = %v", v, got)
			}
		}
	})
	t.Run("NotSampled", func(t *testing.T) {
		be := MustBackend(t, fakellm.Config{})
		g := newGradingServer(t)
		j := &judge.Judge{Endpoint: g.URL, Model: "grader", SampleRate: 1e-9}
		defer j.Close()
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Judge: j})
		for range 20 {
			chat(t, url, "chat")
		}
		if s := j.Stats(); s.Submitted != 0 {
			t.Fatalf("Stats = %+v, want nothing sampled", s)
		}
	})
}
