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
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/sqlite"
)

// A request the shutdown's drain cuts off left no request-log row, no
// sluice_requests_total count and nothing in its version's windows: the
// place an SRE looks to see what a deploy broke showed nothing. It now has
// a row of class drain_cut, naming the version that served it, with its
// latency up to the cut, counted in the metrics but not as the version's
// error. A mirrored request still in flight is counted apart in the
// drain's message: no client waited on it.
func TestServer_ShutdownDrainCutIsLogged(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 10000}}})
	path := filepath.Join(t.TempDir(), "sluice.db")
	gw, cl := startRolloutGateway(t, path, stable, cand)
	ctx := context.Background()
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyShadow, ShadowFraction: 1, ShadowSamples: 100000,
		Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := cl.StartRollout(ctx, spec, "compare the candidate's answers"); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, cl, func(p sluice.Phase) bool { return p == sluice.PhaseShadow }, 30*time.Second)
	waitFor(t, "the proxy to mirror", 10*time.Second, func() bool { id, _ := gw.Proxy.Shadow("chat"); return id == "chat:v1.1.0" })

	// A quick request, answered: its mirror waits on the slow candidate.
	send := func(hold time.Duration) string {
		req, _ := http.NewRequest(http.MethodPost, gw.URL()+"/v1/chat/completions",
			strings.NewReader(`{"model": "chat", "messages": [{"role": "user", "content": "hi"}]}`))
		if hold > 0 {
			req.Header.Set(fakellm.HeaderLatency, "10000")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.Status + " " + string(b)
	}
	send(0)
	waitFor(t, "the mirror in flight", 5*time.Second, func() bool { return gw.Proxy.InFlight("chat:v1.1.0") == 1 })
	// A slow request to stable, in flight when the drain runs out.
	answer := make(chan string, 1)
	go func() { answer <- send(10 * time.Second) }()
	waitFor(t, "the slow request in flight", 5*time.Second, func() bool { return gw.Proxy.InFlight("chat:v1.0.0") == 1 })

	sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := gw.Shutdown(sctx)
	// The wait for the cut requests' rows waits for the clients' only,
	// not for the mirror (which ends when the proxy closes, after it):
	// waiting for it took the whole of that wait's bound (2 s).
	if took := time.Since(began); took >= 300*time.Millisecond+2*time.Second {
		t.Errorf("shutdown took %v: its wait for the cut requests waited for the mirror", took)
	}
	if err == nil {
		t.Fatal("shutdown with a request in flight past the drain: no error")
	}
	for _, want := range []string{"1 request was cut off in flight (chat:v1.0.0: 1)", "drain_cut", "and 1 mirrored request (chat:v1.1.0: 1)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("shutdown error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "2 requests") {
		t.Errorf("shutdown error %q counts the mirror among the clients' requests", err)
	}

	// A client still connected is told the gateway shut down, not that
	// it left.
	select {
	case a := <-answer:
		if !strings.HasPrefix(a, "503") || !strings.Contains(a, "shut down") {
			t.Errorf("the cut request's client got %q; want a 503 saying the gateway shut down", a)
		}
	case <-time.After(5 * time.Second):
		t.Error("the cut request's client got no answer 5 s after the shutdown")
	}

	// The metrics count it; the version's window apart, neither as an
	// error nor as a cancel (the analysis's cancel_rate).
	rec := httptest.NewRecorder()
	gw.Recorder.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if m := rec.Body.String(); !strings.Contains(m, `error_class="drain_cut"`) {
		t.Errorf("/metrics has no drain_cut error class:\n%s", grepLines(m, "sluice_request"))
	}
	w := gw.Recorder.Window("chat", "v1.0.0", "", began.Add(-time.Minute))
	if w.Requests != 1 || w.DrainCut != 1 || w.Errors != 0 || w.Canceled() != 0 {
		t.Errorf("chat:v1.0.0's window: %d requests, %d drain_cut, %d errors, %d canceled; want the answered one, the cut one apart, no error, no cancel", w.Requests, w.DrainCut, w.Errors, w.Canceled())
	}

	// The request log, read from the store after the process is gone.
	st, err := sqlite.OpenOptions(path, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Requests(ctx, sluice.RequestQuery{Model: "chat", Version: "v1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	var cut []sluice.Observation
	for _, o := range rows {
		if o.ErrorClass == sluice.ClassDrainCut {
			cut = append(cut, o)
		}
	}
	if len(cut) != 1 {
		t.Fatalf("request log of chat:v1.0.0: %d drain_cut rows of %d; want 1", len(cut), len(rows))
	}
	if o := cut[0]; o.Latency < 250*time.Millisecond || o.Latency > 5*time.Second || o.Status != 503 || o.Failed() {
		t.Errorf("the cut request's row: latency %v, status %d, failed %v; want its time up to the cut (~300ms), 503, not the version's failure", o.Latency, o.Status, o.Failed())
	}
	// The backend read its prompt, as for a client that left after
	// sending it: the key is charged the estimate.
	if o := cut[0]; o.InputTokens == 0 || !o.TokensEstimated {
		t.Errorf("the cut request's row: %d input tokens, estimated %v; want its prompt's estimate, as a canceled request has", o.InputTokens, o.TokensEstimated)
	}
}
