package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// t0 stamps fixture edits.
var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// MustBackend starts a simulated model server on loopback for the test.
func MustBackend(tb testing.TB, cfg fakellm.Config) *fakellm.Server {
	tb.Helper()
	s := fakellm.New(cfg)
	if err := s.Start("127.0.0.1:0"); err != nil {
		tb.Fatalf("start fakellm: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// MustRoutes returns a routing table holder for model "chat" with a
// production version v1 on stable (served for the bare name) and, when
// candidate is not empty, a staging version v2 on candidate, reachable by
// pin "chat:v2" only through the policy "all".
func MustRoutes(tb testing.TB, stable, candidate string) *route.Holder {
	tb.Helper()
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("fixture: %v", err)
		}
	}
	_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{stable}, UpstreamModel: "up-v1"})
	must(err)
	if candidate != "" {
		_, err = e.RegisterVersion(sluice.Version{Model: "chat", Version: "v2", Stage: sluice.StageStaging, Endpoints: []string{candidate}, UpstreamModel: "up-v2"})
		must(err)
	}
	must(e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicyAll}))
	_, err = e.Finish()
	must(err)
	return route.NewHolder(route.Build(e.Registry(), nil, route.NewOptions()))
}

// MustProxy serves a Proxy with opt on loopback and returns it with its
// base URL.
func MustProxy(tb testing.TB, opt proxy.Options) (*proxy.Proxy, string) {
	tb.Helper()
	p := proxy.New(opt)
	srv := httptest.NewServer(p)
	tb.Cleanup(func() {
		// Cancel mirrored requests first: a hanging backend would hold
		// the worker, and srv.Close waits for nothing of the shadow.
		p.Close()
		srv.Close()
	})
	return p, srv.URL
}

// discardWriter is a ResponseWriter that keeps nothing, for benchmarks.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) Flush()                      {}

// spyRecorder is an observe.Recorder that also keeps every observation, so
// a test can see the routes.
type spyRecorder struct {
	*observe.Recorder
	mu  sync.Mutex
	obs []sluice.Observation
}

func newSpyRecorder() *spyRecorder { return &spyRecorder{Recorder: observe.New(observe.Options{})} }

func (s *spyRecorder) Record(o *sluice.Observation) {
	s.mu.Lock()
	s.obs = append(s.obs, *o)
	s.mu.Unlock()
	s.Recorder.Record(o)
}

// all returns a copy of the observations recorded so far.
func (s *spyRecorder) all() []sluice.Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sluice.Observation(nil), s.obs...)
}

// routes counts the observations of version by route.
func (s *spyRecorder) routes(version string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, o := range s.obs {
		if o.Version == version {
			out[o.Route]++
		}
	}
	return out
}

// spyLog is a RequestLogger that keeps the rows.
type spyLog struct {
	mu   sync.Mutex
	rows []sluice.Observation
}

func (l *spyLog) Enqueue(o sluice.Observation) {
	l.mu.Lock()
	l.rows = append(l.rows, o)
	l.mu.Unlock()
}

func (l *spyLog) all() []sluice.Observation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sluice.Observation(nil), l.rows...)
}

// post sends body to url+path with headers given as name, value pairs and
// returns the response with its body read.
func post(tb testing.TB, url, path, body string, hdr ...string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("POST %s: read: %v", path, err)
	}
	return resp, string(b)
}

// chat sends a chat request for model and returns the response and body;
// it fails the test unless the status is 200.
func chat(tb testing.TB, url, model string, hdr ...string) (*http.Response, string) {
	tb.Helper()
	resp, body := post(tb, url, "/v1/chat/completions",
		`{"model":"`+model+`","messages":[{"role":"user","content":"hello there"}]}`, hdr...)
	if resp.StatusCode != 200 {
		tb.Fatalf("chat %s: status %d: %s", model, resp.StatusCode, body)
	}
	return resp, body
}

// waitFor waits until cond holds or fails the test after 10 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// send sends body with method to url and returns the response with its
// body read.
func send(tb testing.TB, method, url, body string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, string(b)
}
