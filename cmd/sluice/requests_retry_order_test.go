package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/server"
)

// TestCLI_RequestsRetryAtItsOwnTime: a request of the canary's share whose
// canary attempt fails after a while and which stable answers through a
// retry. `sluice requests --id` showed both rows at the request's arrival,
// the retry listed above the failure it followed; now the column says it
// is the time each attempt was sent (SENT), the rows come in the order the
// attempts were sent, and the retry's is after the failed attempt ended.
func TestCLI_RequestsRetryAtItsOwnTime(t *testing.T) {
	const slow = 400 * time.Millisecond
	gw, token, cmd := failingCanary(t, slow)

	_, id := sdkChat(t, gw, "chat", token, "chat", "hello", false)
	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := mustRun(t, cmd("requests", "--id", id)...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "SENT (UTC)") {
		t.Fatalf("want a SENT (UTC) column and two rows, the failed attempt and the retry:\n%s", out)
	}
	at := func(l string) time.Time {
		f := strings.Fields(l)
		tm, err := time.Parse("2006-01-02 15:04:05.000", f[0]+" "+f[1])
		if err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		return tm
	}
	first, second := lines[1], lines[2]
	if !strings.Contains(first, "chat:v1.2.0") || !strings.Contains(first, "(retried)") || !strings.Contains(second, "chat:v1.1.0") || !strings.Contains(second, " retry ") {
		t.Fatalf("want the canary's failed attempt first, then stable's retry:\n%s", out)
	}
	if gap := at(second).Sub(at(first)); gap < slow-time.Millisecond {
		t.Errorf("the retry's row is %v after the failed attempt's, which took over %v: want each attempt at the time it was sent\n%s", gap, slow, out)
	}
}

// failingCanary starts a gateway whose chat model sends every request to
// a canary (v1.2.0) whose backend answers 500 after slow, retried on
// stable (v1.1.0), which answers; cmd adds the admin address and token
// to a CLI command's arguments.
func failingCanary(t *testing.T, slow time.Duration) (gw *server.Server, token string, cmd func(args ...string) []string) {
	t.Helper()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}`)
	}))
	t.Cleanup(good.Close)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slow)
		http.Error(w, `{"error":{"message":"out of memory"}}`, http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	gw, token = startGateway(t)
	doc := strings.Replace(modelsYAML, "BACKEND", good.URL, 1)
	doc = strings.Replace(doc, "BACKEND", bad.URL, 1)
	doc = strings.Replace(doc, "percent: 95}, {version: v1.2.0, percent: 5}", "percent: 0}, {version: v1.2.0, percent: 100}", 1)
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(doc), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd = func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "canary takes all")...)
	return gw, token, cmd
}
