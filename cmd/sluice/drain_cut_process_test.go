package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// sendSlowInFlight sends gw a chat request its backend answers in 2
// minutes, longer than any drain of these tests, and returns once the
// gateway counts it in flight.
func sendSlowInFlight(t *testing.T, gw *proc) {
	t.Helper()
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
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow request never got in flight")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopCut sends gw SIGTERM while a request is in flight that outlives the
// drain, and returns how long the process took to exit (status 1, the
// drain having run out), failing if that is shorter than the drain, or
// longer than the drain and what follows it (server.ShutdownTail) with 10 s
// to spare for a loaded machine: the drain in force is the one that cut.
func stopCut(t *testing.T, gw *proc, drain time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(drain + server.ShutdownTail + 30*time.Second); code != 1 {
		t.Fatalf("exit code %d after a drain that ran out, want 1:\n%s", code, gw.log)
	}
	took := time.Since(began)
	if took < drain || took > drain+server.ShutdownTail+10*time.Second {
		t.Errorf("the stop took %v; with shutdown.drain at %v the request in flight is cut at %v, and the stop ends within %v of it:\n%s", took, drain, drain, server.ShutdownTail, gw.log)
	}
	log := gw.log.String()
	for _, want := range []string{
		"shutting down: draining requests in flight for up to " + drain.String() + " (shutdown.drain)",
		"(the drain waits up to " + drain.String() + ", shutdown.drain)",
		"1 request was cut off in flight",
		"raise shutdown.drain in the config",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the shutdown's log does not say %q:\n%s", want, log)
		}
	}
	return took
}

// TestProcess_SIGTERMDrainCutIsLogged: SIGTERM while a request waits on a
// backend slower than the drain (shutdown.drain, 1 s here, so the test
// runs in seconds). The request is cut off: before, the exit said so but
// the request log had no row for it, so `sluice requests`, where an SRE
// looks for what a deploy broke, showed nothing. Now, after a restart on
// the same store, it lists the request with the class drain_cut, the
// version that served it and its time up to the cut.
func TestProcess_SIGTERMDrainCutIsLogged(t *testing.T) {
	const drain = time.Second
	good := startFakellm(t, "")
	cfg, _ := reliabilityGateway(t, good, good, "shutdown: {drain: 1s}\n")
	gw := startServe(t, cfg, testEnv...)
	// The line after the one startServe waits for.
	waitLog(t, gw, "on SIGTERM the requests in flight drain for up to 1s (shutdown.drain)", 1)
	sendSlowInFlight(t, gw)
	took := stopCut(t, gw, drain)
	if log := gw.log.String(); !strings.Contains(log, "drain_cut") {
		t.Errorf("the exit does not say the request was logged as drain_cut:\n%s", log)
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
	if o := rows[0]; (o.Version != "v1" && o.Version != "v2") || o.Latency < drain || o.Latency > took+10*time.Second {
		t.Errorf("the cut request's row: version %q, latency %v; want v1 or v2 and its time up to the cut (at least the drain, %v; the stop took %v)", o.Version, o.Latency, drain, took)
	}
	human := mustRun(t, "requests", "chat", "--server", again.url, "--token", testAdminSecret)
	if !strings.Contains(human, "drain_cut") {
		t.Errorf("sluice requests does not show drain_cut:\n%s", human)
	}
}

// TestProcess_SIGHUPShortensDrain: a gateway started with a drain of 10
// minutes has shutdown.drain set to 3 s in its file and takes a SIGHUP;
// the SIGTERM that follows cuts the request in flight at 3 s, not 10
// minutes, as the drain is read when the shutdown begins.
func TestProcess_SIGHUPShortensDrain(t *testing.T) {
	const drain = 3 * time.Second
	good := startFakellm(t, "")
	cfg, _ := reliabilityGateway(t, good, good, "shutdown: {drain: 10m}\n")
	gw := startServe(t, cfg, testEnv...)
	waitLog(t, gw, "on SIGTERM the requests in flight drain for up to 10m0s (shutdown.drain)", 1)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), "shutdown: {drain: 10m}", "shutdown: {drain: 3s}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	gw.signal(syscall.SIGHUP)
	waitLog(t, gw, "reloaded on SIGHUP", 1)
	log := gw.log.String()
	if !strings.Contains(log, "shutdown.drain changed: on SIGTERM the requests in flight now drain for up to 3s") {
		t.Errorf("the reload does not say the drain changed:\n%s", log)
	}
	if strings.Contains(log, "take effect on restart") {
		t.Errorf("the reload says a change waits for a restart; shutdown.drain is reloaded:\n%s", log)
	}
	sendSlowInFlight(t, gw)
	stopCut(t, gw, drain)
}
