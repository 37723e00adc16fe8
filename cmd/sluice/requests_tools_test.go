package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// An agent's requests through a real gateway: `sluice requests` shows, per
// request, whether the answer called a tool (TOOLS: call), answered a
// request that offered tools in prose (text) or had none offered (-), in
// the table and in -o json; and /metrics counts them for the tool-call
// rate.
func TestCLI_RequestsShowToolCalls(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg, finish := `{"role":"assistant","content":"Sure, done."}`, "stop"
		if strings.Contains(string(body), "transfer_funds") && strings.Contains(string(body), "call it") {
			msg, finish = `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"transfer_funds","arguments":"{}"}}]}`, "tool_calls"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":%s,"finish_reason":%q}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}`, msg, finish)
	}))
	defer be.Close()
	gw, token := startGateway(t)
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", be.URL)), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)

	const tools = `,"tools":[{"type":"function","function":{"name":"transfer_funds","parameters":{"type":"object"}}}]`
	want := map[string]string{}
	for _, c := range []struct{ content, tools, shows string }{
		{"call it", tools, "call"},
		{"just talk", tools, "text"},
		{"hello", "", "-"},
	} {
		req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions",
			strings.NewReader(`{"model":"chat:v1.1.0","messages":[{"role":"user","content":"`+c.content+`"}]`+c.tools+`}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d", resp.StatusCode)
		}
		want[resp.Header.Get("X-Request-Id")] = c.shows
	}
	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	out := mustRun(t, cmd("requests", "chat")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(lines[0], "TOKENS IN/OUT  TOOLS  CATEGORY") {
		t.Fatalf("no TOOLS column after the tokens:\n%s", out)
	}
	for _, l := range lines[1:] {
		// date, time, id, model:version, route, status, latency, TTFT,
		// tokens, then TOOLS.
		f := strings.Fields(l)
		if w, ok := want[f[2]]; !ok || len(f) < 10 || f[9] != w {
			t.Errorf("row %q: TOOLS column is not %q", l, w)
		}
	}

	out = mustRun(t, cmd("requests", "chat", "-o", "json")...)
	var rows []sluice.Observation
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	for _, o := range rows {
		if got := toolsText(o); got != want[o.RequestID] {
			t.Errorf("-o json: %s has tools_offered %v tool_call %v, want %s", o.RequestID, o.ToolsOffered, o.ToolCall, want[o.RequestID])
		}
	}
	if !strings.Contains(out, `"tool_call": true`) {
		t.Errorf("-o json does not say tool_call:\n%s", out)
	}

	res, err := http.Get(gw.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, m := range []string{
		`sluice_tool_requests_total{category="none",model="chat",result="call",version="v1.1.0"} 1`,
		`sluice_tool_requests_total{category="none",model="chat",result="text",version="v1.1.0"} 1`,
	} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("/metrics lacks %s:\n%s", m, grepLines(string(metrics), "sluice_tool"))
		}
	}
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
