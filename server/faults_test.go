package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mustGatewayWith starts a gateway like MustGateway, with the config
// changed by edit first and its logs (debug level) written to logs when
// not nil.
func mustGatewayWith(tb testing.TB, edit func(*config.Gateway), logs io.Writer, doc sluice.ApplyDoc) (*server.Server, string) {
	tb.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(tb.TempDir(), "sluice.db")
	cfg.Health.Interval = 100 * time.Millisecond
	cfg.Health.FailAfter = 1
	cfg.Rollouts.Tick = 20 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("config: %v", err)
	}
	opt := server.Options{Config: cfg}
	if logs != nil {
		opt.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx := context.Background()
	s, err := server.New(ctx, opt)
	if err != nil {
		tb.Fatalf("new gateway: %v", err)
	}
	if err := s.Start(); err != nil {
		tb.Fatalf("start gateway: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	if len(doc.Models) > 0 {
		if _, err := s.Control.Do(ctx, "test", "test setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
			tb.Fatalf("apply: %v", err)
		}
	}
	secret, err := s.CreateToken(ctx, "test-admin", sluice.RoleAdmin, "test", "test setup")
	if err != nil {
		tb.Fatalf("create token: %v", err)
	}
	return s, secret
}

// openAIError is the body of an OpenAI-shaped error.
type openAIError struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
}

// postRead sends a chat request and returns the status, headers and the
// decoded error (empty on success).
func postRead(t *testing.T, client *http.Client, url, body string, headers map[string]string) (*http.Response, openAIError) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e openAIError
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
			t.Fatalf("status %d with a body that is no OpenAI error: %q", resp.StatusCode, b)
		}
	}
	return resp, e
}

// TestEjection_HangingBackend: a backend that accepts requests and never
// answers. A request pinned to it ends with a 504 naming the version;
// requests split to it are retried on stable until outlier ejection takes
// it out of the split, after which they no longer wait for it.
func TestEjection_HangingBackend(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{})
	b2 := MustBackend(t, fakellm.Config{})
	b2.SetHang(true) // health checks still pass: only ejection sees it
	defer b2.SetHang(false)
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, map[string]string{"stable": "v1.0.0"})
	// "solo" has the hanging backend as its only version: nothing to retry
	// on.
	doc.Models = append(doc.Models, sluice.ApplyModel{Name: "solo", Versions: []sluice.Version{{Version: "v1", Endpoints: []string{b2.URL()}, Stage: sluice.StageProduction}}})
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.Timeouts.FirstByte = 300 * time.Millisecond
		c.OutlierEjection.ConsecutiveFailures = 3
		c.OutlierEjection.Cooldown, c.OutlierEjection.MaxCooldown = time.Hour, time.Hour
	}, nil, doc)

	for i := 0; i < 40; i++ {
		resp, e := postRead(t, nil, gw.URL(), `{"model":"chat","user":"u`+string(rune('a'+i%26))+string(rune('a'+i/26))+`","messages":[]}`, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("split request %d: %d %s", i, resp.StatusCode, e.Error.Message)
		}
		if resp.Header.Get("X-Model-Version") != "chat:v1.0.0" {
			t.Fatalf("split request %d answered by %s, not stable", i, resp.Header.Get("X-Model-Version"))
		}
		if b2.Requests() == 3 {
			// The ejection reaches the routing table from the ejector's own
			// goroutine, a moment after the third failure: wait for it, so
			// the next request (sticky on v1.1.0) is not sent in that gap.
			waitFor(t, "the ejection to reach the routing table", 5*time.Second, func() bool { return !splitHas(gw, "v1.1.0") })
		}
	}
	// Exactly the attempts that ejected it reached the hanging backend
	// (and waited for the first-byte timeout before their retry).
	if n := b2.Requests(); n != 3 {
		t.Errorf("the hanging backend got %d requests, want 3 (the ejection threshold)", n)
	}
	why, out := gw.Ejector.Reason("chat:v1.1.0")
	if !out || !strings.Contains(why, "3 failed requests in a row") {
		t.Fatalf("chat:v1.1.0 ejected=%v (%q), want ejected for 3 failures in a row", out, why)
	}
	for _, v := range gw.Routes.Load().Models() {
		for _, m := range v.Split {
			if m.Version == "v1.1.0" && (m.Healthy || m.Effective != 0) {
				t.Errorf("routes show the ejected version %+v", m)
			}
		}
	}
	if got := gw.OutOfService("chat:v1.1.0"); !strings.Contains(got, "ejected") {
		t.Errorf("OutOfService = %q", got)
	}

	// With no other version to retry on, the request times out with an
	// OpenAI-shaped 504 that names the version.
	start := time.Now()
	resp, e := postRead(t, nil, gw.URL(), `{"model":"solo","messages":[]}`, nil)
	if resp.StatusCode != http.StatusGatewayTimeout || e.Error.Code != "upstream_timeout" || e.Error.Type != "api_error" || !strings.Contains(e.Error.Message, "solo:v1") || !strings.Contains(e.Error.Message, "did not answer in time") {
		t.Errorf("pinned request to the hanging backend: %d %+v", resp.StatusCode, e.Error)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout took %s, want about 300ms", d)
	}

	body := scrape(t, gw.AdminURL()+"/metrics")
	if !strings.Contains(body, `sluice_version_ejected{model="chat",version="v1.1.0"} 1`) || !strings.Contains(body, "sluice_ejections_total 1") {
		t.Errorf("/metrics lacks the ejection:\n%s", grepLines(body, "eject"))
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestEjection_Probation: a version ejected for its 5xx answers comes back
// into the split after its cool-down once its backend recovers.
func TestEjection_Probation(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{})
	b2 := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1, ErrorStatus: 500}})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, map[string]string{"stable": "v1.0.0"})
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.OutlierEjection.ConsecutiveFailures = 2
		c.OutlierEjection.Cooldown = 300 * time.Millisecond
	}, nil, doc)
	served := func(n int) map[string]int {
		got := map[string]int{}
		for i := 0; i < n; i++ {
			resp, e := postRead(t, nil, gw.URL(), `{"model":"chat","messages":[]}`, map[string]string{"X-User-Id": "user-" + string(rune('A'+i%50))})
			if resp.StatusCode != 200 {
				t.Fatalf("request %d: %d %s", i, resp.StatusCode, e.Error.Message)
			}
			got[resp.Header.Get("X-Model-Version")]++
		}
		return got
	}
	served(20)
	if _, out := gw.Ejector.Reason("chat:v1.1.0"); !out {
		t.Fatal("a version answering 500 to everything was not ejected")
	}
	if got := served(20); got["chat:v1.1.0"] != 0 {
		t.Fatalf("ejected version served %v", got)
	}
	b2.SetBehavior("", fakellm.Behavior{})
	waitFor(t, "the cool-down to end", 3*time.Second, func() bool { _, out := gw.Ejector.Reason("chat:v1.1.0"); return !out })
	time.Sleep(50 * time.Millisecond) // the routing table is republished
	if got := served(50); got["chat:v1.1.0"] == 0 {
		t.Fatalf("recovered version got no traffic after its cool-down: %v", got)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFault_CandidateKilledMidRollout kills the candidate's backend, reset
// connections and all, while a rollout sends it a share of live traffic
// and a stream from it is under way: no client request fails (those not
// yet answered are retried on stable), the stream ends with an error event
// instead of hanging, and the rollout rolls back by itself.
func TestFault_CandidateKilledMidRollout(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	// The candidate streams slowly, so a stream is under way when it dies.
	cand := MustBackend(t, fakellm.Config{Seed: 3, Default: fakellm.Behavior{TokensPerSecond: 40, OutputTokens: fakellm.TokenCount{Mean: 400}}})
	gw, cl := startRolloutGateway(t, "", stable, cand)
	l := startLoad(t, gw.URL(), 6)
	spec := fastSpec("v1.1.0")
	for i := range spec.Stages {
		spec.Stages[i].Hold = sluice.Duration(time.Hour) // stay at 10% until the kill
	}
	if _, err := cl.StartRollout(context.Background(), spec, "kill test"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)
	waitFor(t, "the candidate to serve", 10*time.Second, func() bool { return candidateCount(l) > 20 })

	// A stream from the candidate, pinned, under way.
	req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat:v1.1.0","stream":true,"messages":[{"role":"user","content":"tell me a long story"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: ") {
		t.Fatalf("stream start %q, %v", first, err)
	}
	streamDone := make(chan string, 1)
	go func() {
		rest, _ := io.ReadAll(br)
		streamDone <- string(rest)
	}()

	killedAt := time.Now()
	cand.Kill()

	select {
	case rest := <-streamDone:
		lines := strings.Split(strings.TrimSpace(rest), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "data: {\"error\"") || !strings.Contains(last, "broke off the stream") || !strings.Contains(last, "chat:v1.1.0") {
			t.Errorf("the broken stream ended with %q, want an error event naming the version", last)
		}
		if strings.Contains(rest, "[DONE]") {
			t.Error("a broken stream claimed [DONE]")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream from the killed backend was still open 5 s after the kill")
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 30*time.Second)
	if r.Phase != sluice.PhaseRolledBack {
		t.Fatalf("rollout phase %s (%s), want rolled_back", r.Phase, r.Decision)
	}
	rolledBackIn := time.Since(killedAt)
	time.Sleep(300 * time.Millisecond)
	l.finish()
	if f := l.failed.Load(); f != 0 {
		t.Errorf("%d of %d client requests failed", f, l.sent.Load())
	}
	if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.0.0" {
		t.Errorf("policy after the rollback: %s", got)
	}
	t.Logf("%d requests, 0 failed; rolled back %s after the kill: %s", l.sent.Load(), rolledBackIn.Round(time.Millisecond), r.Decision)
}

// TestFault_HangingCandidateRollsBack: a candidate that hangs mid-rollout
// is ejected (health checks still pass) and the rollout rolls back naming
// the ejection; clients only see requests slowed by the first-byte
// timeout, never failed.
func TestFault_HangingCandidateRollsBack(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 5})
	gw, cl := startRolloutGatewayWith(t, "", func(c *config.Gateway) {
		c.Health.FailAfter = 2
		c.Timeouts.FirstByte = 300 * time.Millisecond
		c.OutlierEjection.ConsecutiveFailures = 3
	}, stable, cand)
	l := startLoad(t, gw.URL(), 6)
	spec := fastSpec("v1.1.0")
	for i := range spec.Stages {
		spec.Stages[i].Hold = sluice.Duration(time.Hour)
	}
	if _, err := cl.StartRollout(context.Background(), spec, "hang test"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseProgressing }, 30*time.Second)
	waitFor(t, "the candidate to serve", 10*time.Second, func() bool { return candidateCount(l) > 20 })
	cand.SetHang(true)
	defer cand.SetHang(false)
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 30*time.Second)
	l.finish()
	if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, "ejected") {
		t.Fatalf("rollout %s: %s, want rolled back naming the ejection", r.Phase, r.Decision)
	}
	if f := l.failed.Load(); f != 0 {
		t.Errorf("%d of %d client requests failed", f, l.sent.Load())
	}
	audit, err := gw.Store.Audit(context.Background(), sluice.AuditQuery{Action: "rollout.out_of_service"})
	if err != nil || len(audit) != 1 || audit[0].Actor != "controller" {
		t.Errorf("audit of the rollback: %+v, %v; want one entry by the controller", audit, err)
	}
	t.Logf("%d requests, 0 failed: %s", l.sent.Load(), r.Decision)
}

// TestTimeout_StalledStream: a backend that starts a stream and then
// trickles is cut off at the request timeout with an error event, so the
// client is never left waiting on a stream that will not finish.
func TestTimeout_StalledStream(t *testing.T) {
	b := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 2, OutputTokens: fakellm.TokenCount{Mean: 100}}})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Timeouts.Request = time.Second }, nil, doc)
	start := time.Now()
	req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat","stream":true,"messages":[]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the stream lasted %s with a 1s request timeout", d)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, `data: {"error"`) || !strings.Contains(last, "chat:v1.0.0") {
		t.Errorf("stalled stream ended with %q, want an error event naming the version", last)
	}
}

// splitHas reports whether the routing table has version in a split with
// a share of traffic.
func splitHas(gw *server.Server, version string) bool {
	for _, v := range gw.Routes.Load().Models() {
		for _, m := range v.Split {
			if m.Version == version && m.Healthy && m.Effective > 0 {
				return true
			}
		}
	}
	return false
}
