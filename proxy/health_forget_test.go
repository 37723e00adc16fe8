package proxy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestHealthChecker_ForgetsRemovedEndpoints: an endpoint no version names
// any more (replaced, or its version retired) leaves /metrics and the set
// of endpoints down at once, and what the checker knew of it is forgotten:
// named again, it starts afresh. Before, its failures in a row were kept
// for ever, so an endpoint that was down when removed came back down from
// its first failed check (sluice_endpoint_up 0, no "failed" record), and a
// fleet whose backends come and go grew the checker's state without end.
func TestHealthChecker_ForgetsRemovedEndpoints(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/good/") {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	good, bad, gone := srv.URL+"/good", srv.URL+"/bad", srv.URL+"/gone"
	setTargets := func(h *proxy.HealthChecker, v1 []string, v2Stage sluice.Stage) {
		reg := sluice.NewRegistry()
		reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Endpoints: v1, Stage: sluice.StageProduction}
		reg.Versions["chat:v2"] = &sluice.Version{Model: "chat", Version: "v2", Endpoints: []string{gone}, Stage: v2Stage}
		h.SetTargets(reg)
	}
	var logs bytes.Buffer
	h := &proxy.HealthChecker{FailAfter: 2, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	pr := prometheus.NewRegistry()
	pr.MustRegister(h)
	metrics := httptest.NewServer(promhttp.HandlerFor(pr, promhttp.HandlerOpts{}))
	defer metrics.Close()
	series := func() string {
		t.Helper()
		resp, err := http.Get(metrics.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "sluice_endpoint_up{") {
				lines = append(lines, strings.ReplaceAll(l, srv.URL, ""))
			}
		}
		return strings.Join(lines, "\n")
	}
	ctx := context.Background()

	setTargets(h, []string{good, bad}, sluice.StageProduction)
	for i := 0; i < 3; i++ {
		h.CheckNow(ctx)
	}
	want := `sluice_endpoint_up{endpoint="/bad",model="chat",version="v1"} 0
sluice_endpoint_up{endpoint="/gone",model="chat",version="v2"} 0
sluice_endpoint_up{endpoint="/good",model="chat",version="v1"} 1`
	if got := series(); got != want {
		t.Fatalf("/metrics with bad and gone down:\n%s\nwant\n%s", got, want)
	}

	// bad replaced, v2 retired: their series and down marks go at once.
	setTargets(h, []string{good}, sluice.StageRetired)
	want = `sluice_endpoint_up{endpoint="/good",model="chat",version="v1"} 1`
	if got := series(); got != want {
		t.Errorf("/metrics right after bad and v2 were removed:\n%s\nwant\n%s", got, want)
	}
	if down := h.DownEndpoints(); len(down) != 0 {
		t.Errorf("endpoints down after they were removed: %v", down)
	}
	h.CheckNow(ctx)
	if got := series(); got != want {
		t.Errorf("/metrics a round after bad and v2 were removed:\n%s\nwant\n%s", got, want)
	}

	// Named again, bad starts afresh: one failure is not FailAfter.
	logs.Reset()
	setTargets(h, []string{good, bad}, sluice.StageProduction)
	if got := series(); strings.Contains(got, "/bad") || strings.Contains(got, "/gone") {
		t.Errorf("/metrics before bad and gone are checked again:\n%s\nwant no series for them", got)
	}
	h.CheckNow(ctx)
	want = `sluice_endpoint_up{endpoint="/bad",model="chat",version="v1"} 1
sluice_endpoint_up{endpoint="/gone",model="chat",version="v2"} 1
sluice_endpoint_up{endpoint="/good",model="chat",version="v1"} 1`
	if got := series(); got != want {
		t.Errorf("/metrics after one failed check of bad and gone named again:\n%s\nwant\n%s (one failure of FailAfter 2)", got, want)
	}
	if down := h.DownEndpoints(); len(down) != 0 {
		t.Errorf("endpoints down after one failed check: %v", down)
	}
	if n := strings.Count(logs.String(), `msg="health check: endpoint failed"`); n != 2 {
		t.Errorf("%d \"failed\" records for the two endpoints named again, want 2:\n%s", n, logs.String())
	}
}
