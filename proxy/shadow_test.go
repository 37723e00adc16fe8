package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

func TestProxy_SetShadow(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{RefusalRate: 1, Latency: fakellm.Distribution{MedianMS: 5}}})
		rec, log := newSpyRecorder(), &spyLog{}
		p, url := MustProxy(t, proxy.Options{
			Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: rec, Log: log,
			Refusal: observe.NewRefusalDetector(nil),
		})
		p.SetShadow("chat", "chat:v2", 0.5)
		if id, f := p.Shadow("chat"); id != "chat:v2" || f != 0.5 {
			t.Fatalf("Shadow = %q, %v", id, f)
		}
		const n = 200
		for range n {
			resp, body := chat(t, url, "chat", "X-Request-Category", "code")
			// The client sees only the stable answer.
			if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" || !strings.Contains(body, `"model":"up-v1"`) || strings.Contains(body, "I cannot") {
				t.Fatalf("client got %s from %s", body, v)
			}
		}
		waitFor(t, "the mirrors to finish", func() bool {
			// The live handlers queue their mirror after the client has its
			// answer and leave the in-flight count last.
			s := p.ShadowStats()
			return p.InFlight("chat:v1") == 0 && s.Completed+s.Skipped == s.Mirrored
		})
		s := p.ShadowStats()
		if s.Mirrored < 60 || s.Mirrored > 140 || s.Dropped != 0 || s.Completed != s.Mirrored {
			t.Fatalf("ShadowStats = %+v, want about half of %d mirrored, none dropped", s, n)
		}
		if got := cand.Requests(); got != s.Mirrored {
			t.Fatalf("candidate got %d requests, %d were mirrored", got, s.Mirrored)
		}
		if r := rec.routes("v2"); r["shadow"] != int(s.Mirrored) || len(r) != 1 {
			t.Fatalf("candidate observations by route = %v, want only shadow", r)
		}
		if w := rec.Window("chat", "v2", "code", time.Time{}); w.Requests != s.Mirrored || w.Refusals != s.Mirrored {
			t.Fatalf("candidate window = %+v", w.Counts)
		}
		for _, row := range log.all() {
			if row.Version != "v1" || row.Route == proxy.RouteShadow {
				t.Fatalf("request log has %+v: shadow answers must stay out of it", row)
			}
		}
		if rows := len(log.all()); rows != n {
			t.Fatalf("request log has %d rows, want %d", rows, n)
		}
		// The candidate refuses everything: its heuristic scores are 0.
		q := rec.Window("chat", "v2", "", time.Time{}).QualityBySource["heuristic"]
		if len(q) != int(s.Mirrored) || q[0] != 0 {
			t.Fatalf("candidate heuristic scores = %v", q)
		}

		pairs := p.ShadowPairs("chat", 0)
		if len(pairs) != int(s.Mirrored) {
			t.Fatalf("%d pairs, want %d", len(pairs), s.Mirrored)
		}
		pr := pairs[0]
		if pr.RequestID == "" || pr.Category != "code" || pr.Endpoint != "/v1/chat/completions" ||
			pr.Primary.Version != "v1" || pr.Shadow.Version != "v2" || pr.Primary.Status != 200 || pr.Shadow.Status != 200 ||
			pr.Primary.Text == "" || pr.Shadow.Text != fakellm.DefaultRefusal || pr.Primary.Refusal || !pr.Shadow.Refusal ||
			pr.Diff.Refusal != "shadow_only" || pr.Diff.Error != "none" || pr.Diff.SameText || pr.Shadow.LatencyMS < 5 {
			b, _ := json.MarshalIndent(pr, "", "  ")
			t.Fatalf("pair:\n%s", b)
		}
		if !pairs[0].At.After(pairs[len(pairs)-1].At) {
			t.Fatal("pairs must be newest first")
		}
		if got := p.ShadowPairs("chat", 3); len(got) != 3 || got[0].RequestID != pr.RequestID {
			t.Fatalf("ShadowPairs(chat, 3) = %d pairs", len(got))
		}
		if got := p.ShadowPairs("other", 0); len(got) != 0 {
			t.Fatalf("ShadowPairs(other) = %d pairs", len(got))
		}
		b, err := json.Marshal(pr)
		if err != nil || !strings.Contains(string(b), `"primary":{"version":"v1","status":200,"latency_ms":`) {
			t.Fatalf("JSON %s, %v", b, err)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TTFT: fakellm.Distribution{MedianMS: 30}, OutputTokens: fakellm.TokenCount{Mean: 12}}})
		rec := newSpyRecorder()
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), Recorder: rec})
		p.SetShadow("chat", "chat:v2", 1)
		resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 || !strings.Contains(body, "data: [DONE]") {
			t.Fatalf("stream: %d %s", resp.StatusCode, body)
		}
		waitFor(t, "the pair", func() bool { return len(p.ShadowPairs("chat", 0)) == 1 })
		pr := p.ShadowPairs("chat", 0)[0]
		if !pr.Stream || pr.Shadow.TTFTMS < 30 || pr.Shadow.OutputTokens != 12 || pr.Primary.OutputTokens != fakellm.DefaultOutputTokens ||
			pr.Diff.OutputTokens != 12-fakellm.DefaultOutputTokens || pr.Shadow.Text != fakellm.GeneratedText(12) || pr.Primary.Text != fakellm.GeneratedText(fakellm.DefaultOutputTokens) {
			b, _ := json.MarshalIndent(pr, "", "  ")
			t.Fatalf("stream pair:\n%s", b)
		}
		if w := rec.Window("chat", "v2", "", time.Time{}); len(w.TTFT) != 1 || w.TTFT[0] < 30 {
			t.Fatalf("candidate TTFT = %v", w.TTFT)
		}
	})
	t.Run("NotWhenCandidateServes", func(t *testing.T) {
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{})
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL())})
		p.SetShadow("chat", "chat:v2", 1)
		chat(t, url, "chat:v2")
		chat(t, url, "chat:v1")
		waitFor(t, "one mirror", func() bool { return p.ShadowStats().Completed == 1 })
		if got := cand.Requests(); got != 2 {
			t.Fatalf("candidate got %d requests, want 2 (one pinned, one mirrored)", got)
		}
	})
	t.Run("Stop", func(t *testing.T) {
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{})
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL())})
		p.SetShadow("chat", "chat:v2", 1)
		chat(t, url, "chat")
		waitFor(t, "one mirror", func() bool { return p.ShadowStats().Completed == 1 })
		p.SetShadow("chat", "chat:v2", 0)
		if id, _ := p.Shadow("chat"); id != "" {
			t.Fatalf("Shadow = %q after stop", id)
		}
		for range 10 {
			chat(t, url, "chat")
		}
		if s := p.ShadowStats(); s.Mirrored != 1 || cand.Requests() != 1 {
			t.Fatalf("after stop: %+v, candidate requests %d", s, cand.Requests())
		}
	})
	t.Run("Close", func(t *testing.T) {
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{})
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL())})
		p.SetShadow("chat", "chat:v2", 1)
		p.Close()
		p.SetShadow("chat", "chat:v2", 1)
		if id, _ := p.Shadow("chat"); id != "" {
			t.Fatalf("Shadow = %q after Close", id)
		}
		chat(t, url, "chat")
		if s := p.ShadowStats(); s.Mirrored+s.Dropped != 0 || cand.Requests() != 0 {
			t.Fatalf("after Close: %+v, candidate requests %d", s, cand.Requests())
		}
	})
	t.Run("DropsWhenFull", func(t *testing.T) {
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{})
		cand.SetHang(true)
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), ShadowQueue: 4, ShadowWorkers: 1})
		p.SetShadow("chat", "chat:v2", 1)
		var slowest time.Duration
		for range 50 {
			start := time.Now()
			chat(t, url, "chat")
			slowest = max(slowest, time.Since(start))
		}
		// The worker hangs on the first mirror and 4 more wait: the rest
		// are dropped, and no live answer waited for the candidate.
		if slowest > time.Second {
			t.Fatalf("slowest live answer took %v with a hanging candidate", slowest)
		}
		waitFor(t, "the hung mirror in flight", func() bool { return p.InFlight("chat:v2") == 1 && p.InFlight("chat:v1") == 0 })
		s := p.ShadowStats()
		if s.Mirrored > 6 || s.Dropped < 44 || s.Mirrored+s.Dropped != 50 {
			t.Fatalf("ShadowStats = %+v, want at most 5 or 6 queued and the rest dropped", s)
		}
		// Stopping the shadow cancels the hung request and skips the queue.
		p.SetShadow("chat", "", 0)
		waitFor(t, "the shadow to drain", func() bool {
			s := p.ShadowStats()
			return p.InFlight("chat:v2") == 0 && s.Queued == 0 && s.Skipped == s.Mirrored
		})
		if s := p.ShadowStats(); s.Completed != 0 {
			t.Fatalf("ShadowStats = %+v: cancelled mirrors must not be recorded", s)
		}
	})
}

func TestProxy_ShadowHeader(t *testing.T) {
	// A client cannot pass a request off as mirrored; a mirrored request
	// says so.
	seen := make(chan string, 4)
	answer := func(name string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen <- name + "=" + r.Header.Get(proxy.ShadowHeader)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	stable, cand := answer("stable"), answer("candidate")
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL, cand.URL)})
	p.SetShadow("chat", "chat:v2", 1)
	chat(t, url, "chat", proxy.ShadowHeader, "true")
	got := []string{<-seen, <-seen}
	if got[0] != "stable=" || got[1] != "candidate=true" {
		t.Fatalf("backends saw %v, want [stable= candidate=true]", got)
	}
}
