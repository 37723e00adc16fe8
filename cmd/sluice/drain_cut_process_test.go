package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestProcess_SIGTERMDrainCutIsLogged: SIGTERM while a request waits on a
// backend slower than the drain (30 s). The request is cut off: before,
// the exit said so but the request log had no row for it, so `sluice
// requests`, where an SRE looks for what a deploy broke, showed nothing.
// Now, after a restart on the same store, it lists the request with the
// class drain_cut, the version that served it and its time up to the cut.
func TestProcess_SIGTERMDrainCutIsLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary through its 30 s drain (skipped under -short)")
	}
	good := startFakellm(t, "")
	cfg, _ := reliabilityGateway(t, good, good, "")
	gw := startServe(t, cfg, testEnv...)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, gw.url+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set(fakellm.HeaderLatency, "120000")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(gw.url + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), "sluice_inflight_requests{model=\"chat\"") && strings.Contains(string(b), "} 1\n") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow request never got in flight")
		}
		time.Sleep(50 * time.Millisecond)
	}
	began := time.Now()
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(60 * time.Second); code != 1 {
		t.Fatalf("exit code %d after a drain that ran out, want 1:\n%s", code, gw.log)
	}
	took := time.Since(began)
	if log := gw.log.String(); !strings.Contains(log, "1 request was cut off in flight") || !strings.Contains(log, "drain_cut") {
		t.Errorf("the exit does not say the request was cut off and logged as drain_cut:\n%s", log)
	}

	again := startServe(t, cfg, testEnv...)
	out := mustRun(t, "requests", "chat", "-o", "json", "--server", again.url, "--token", testAdminSecret)
	var rows []sluice.Observation
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("sluice requests -o json: %v\n%s", err, out)
	}
	if len(rows) != 1 || rows[0].ErrorClass != sluice.ClassDrainCut {
		t.Fatalf("sluice requests after the restart: %+v; want the cut request's row, class drain_cut", rows)
	}
	// Sent before the SIGTERM (the wait for it in flight, under 10 s).
	if o := rows[0]; (o.Version != "v1" && o.Version != "v2") || o.Latency < 29*time.Second || o.Latency > took+10*time.Second {
		t.Errorf("the cut request's row: version %q, latency %v; want v1 or v2 and its time up to the cut (30 s; the stop took %v)", o.Version, o.Latency, took)
	}
	human := mustRun(t, "requests", "chat", "--server", again.url, "--token", testAdminSecret)
	if !strings.Contains(human, "drain_cut") {
		t.Errorf("sluice requests does not show drain_cut:\n%s", human)
	}
}
