package proxy_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

func TestProxy_Feedback(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: rec, FeedbackWindow: 50})

	t.Run("OK", func(t *testing.T) {
		r1, _ := chat(t, url, "chat", "X-Request-Category", "code")
		r2, _ := chat(t, url, "chat:v2", "X-Request-Category", "code")
		r3, _ := chat(t, url, "chat:v2")
		for _, c := range []struct {
			id, body, version string
		}{
			{r1.Header.Get("X-Request-Id"), `{"thumbs":"up","request_id":"%s"}`, "v1"},
			{r2.Header.Get("X-Request-Id"), `{"request_id":"%s","score":0.25}`, "v2"},
			{r3.Header.Get("X-Request-Id"), `{"request_id":"%s","thumbs":"down"}`, "v2"},
		} {
			resp, body := post(t, url, "/v1/feedback", strings.Replace(c.body, "%s", c.id, 1))
			if resp.StatusCode != 202 {
				t.Fatalf("feedback: %d %s", resp.StatusCode, body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got["request_id"] != c.id || got["version"] != c.version || got["model"] != "chat" || got["accepted"] != true {
				t.Fatalf("feedback answer %s, want version %s", body, c.version)
			}
		}
		fb := func(version, category string) []float64 {
			return rec.Window("chat", version, category, time.Time{}).QualityBySource["feedback"]
		}
		if got := fb("v1", "code"); !slices.Equal(got, []float64{1}) {
			t.Fatalf("v1 code feedback = %v, want [1]", got)
		}
		if got := fb("v2", "code"); !slices.Equal(got, []float64{0.25}) {
			t.Fatalf("v2 code feedback = %v, want [0.25]", got)
		}
		if got := fb("v2", "none"); !slices.Equal(got, []float64{0}) {
			t.Fatalf("v2 uncategorised feedback = %v, want [0]", got)
		}
		// The answers of v2 were to pinned requests: their feedback and
		// heuristic scores, like their observations, are not what a
		// canary's analysis of the split judges.
		if s := rec.Randomized("chat", "v2", "", time.Time{}); s.Quality != nil || s.NotRandomized != 2 {
			t.Fatalf("v2's randomized sample has scores %v and leaves out %d requests; want none, leaving out the 2 pinned", s.QualityBySource, s.NotRandomized)
		}
	})

	r, _ := chat(t, url, "chat")
	id := r.Header.Get("X-Request-Id")
	tests := []struct {
		name, method, body string
		status             int
		msg                string
	}{
		{"ErrMethod", "GET", "", 405, "takes POST"},
		{"ErrNotJSON", "POST", `{"request_id":`, 400, "not valid JSON"},
		{"ErrNotObject", "POST", `["up"]`, 400, "must be a JSON object"},
		{"ErrUnknownField", "POST", `{"request_id":"` + id + `","thumbs":"up","comment":"nice"}`, 400, `unknown field "comment"`},
		{"ErrNoRequestID", "POST", `{"thumbs":"up"}`, 400, `"request_id" is missing`},
		{"ErrRequestIDType", "POST", `{"request_id":42,"thumbs":"up"}`, 400, `"request_id" must be a non-empty string`},
		{"ErrBoth", "POST", `{"request_id":"` + id + `","thumbs":"up","score":1}`, 400, "not both"},
		{"ErrNeither", "POST", `{"request_id":"` + id + `"}`, 400, `neither "score" nor "thumbs"`},
		{"ErrScoreType", "POST", `{"request_id":"` + id + `","score":"0.5"}`, 400, `"score" must be a number`},
		{"ErrScoreRange", "POST", `{"request_id":"` + id + `","score":4}`, 422, `between 0.0 and 1.0, got 4`},
		{"ErrThumbsType", "POST", `{"request_id":"` + id + `","thumbs":true}`, 400, `"thumbs" must be the string`},
		{"ErrThumbsValue", "POST", `{"request_id":"` + id + `","thumbs":"sideways"}`, 422, `"up" or "down", got "sideways"`},
		{"ErrUnknownID", "POST", `{"request_id":"req_nope_1","thumbs":"up"}`, 404, "unknown request id \"req_nope_1\": not a request id this gateway gives"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := send(t, tt.method, url+"/v1/feedback", tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			var e struct {
				Error struct{ Message, Type, Code string }
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Type != "invalid_request_error" || !strings.Contains(e.Error.Message, tt.msg) {
				t.Fatalf("error body %s, want an OpenAI error saying %q", body, tt.msg)
			}
		})
	}
	t.Run("ErrTwice", func(t *testing.T) {
		body := `{"request_id":"` + id + `","thumbs":"up"}`
		if resp, b := post(t, url, "/v1/feedback", body); resp.StatusCode != 202 {
			t.Fatalf("first feedback: %d %s", resp.StatusCode, b)
		}
		if resp, b := post(t, url, "/v1/feedback", body); resp.StatusCode != 409 || !strings.Contains(b, "already has feedback") {
			t.Fatalf("second feedback: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		old, _ := chat(t, url, "chat")
		for range 50 {
			chat(t, url, "chat")
		}
		resp, b := post(t, url, "/v1/feedback", `{"request_id":"`+old.Header.Get("X-Request-Id")+`","score":1}`)
		if resp.StatusCode != 404 || !strings.Contains(b, "the last 50 requests") {
			t.Fatalf("feedback on an expired id: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("ErrFailedRequest", func(t *testing.T) {
		// An id handed out for a request that never reached a backend
		// (here: an unknown model) takes no feedback.
		resp, _ := post(t, url, "/v1/chat/completions", `{"model":"nope","messages":[]}`)
		if resp.StatusCode != 404 {
			t.Fatalf("unknown model: %d", resp.StatusCode)
		}
		r, b := post(t, url, "/v1/feedback", `{"request_id":"`+resp.Header.Get("X-Request-Id")+`","score":1}`)
		if r.StatusCode != 404 {
			t.Fatalf("feedback: %d %s", r.StatusCode, b)
		}
	})
}

// TestProxy_FeedbackStampedWithTheRequest: a user's score was stamped
// when it arrived, so a rating sent 30 s after its answer counted in
// whatever span was open then: after an A/B test reached its sample it
// was outside the test's report, and a rating of an answer from before a
// test counted in it. It is now stamped with its request's time.
func TestProxy_FeedbackStampedWithTheRequest(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: rec, Now: clock})
	answered := clock()
	r, _ := chat(t, url, "chat", "X-Request-Category", "payments")
	mu.Lock()
	now = now.Add(30 * time.Second)
	mu.Unlock()
	resp, body := post(t, url, "/v1/feedback", `{"request_id":"`+r.Header.Get("X-Request-Id")+`","thumbs":"down"}`)
	if resp.StatusCode != 202 {
		t.Fatalf("feedback: %d %s", resp.StatusCode, body)
	}
	span := rec.Between("chat", "v1", "payments", answered, answered.Add(time.Second)).QualityBySource["feedback"]
	later := rec.Between("chat", "v1", "payments", answered.Add(time.Second), time.Time{}).QualityBySource["feedback"]
	if !slices.Equal(span, []float64{0}) || len(later) != 0 {
		t.Errorf("feedback in the request's second %v, after it %v; want the score [0] at the request's time, none at its arrival 30 s later", span, later)
	}
}
