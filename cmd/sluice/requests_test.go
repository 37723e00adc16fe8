package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestCLI_RequestsAndCutLists: `sluice requests` answers which version served
// a request (by the X-Request-Id the client got), and a list cut at its
// limit says so instead of looking complete.
func TestCLI_RequestsAndCutLists(t *testing.T) {
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	gw, token := startGateway(t)
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", b.URL())), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)

	var ids []string
	for i := 0; i < 5; i++ {
		req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("chat: %d", resp.StatusCode)
		}
		ids = append(ids, resp.Header.Get("X-Request-Id"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	out := mustRun(t, cmd("requests", "--id", ids[2])...)
	if !strings.Contains(out, ids[2]) || !strings.Contains(out, "chat:v1.1.0") && !strings.Contains(out, "chat:v1.2.0") {
		t.Errorf("requests --id: %s", out)
	}
	if strings.Count(out, "\n") != 2 {
		t.Errorf("requests --id should show one row:\n%s", out)
	}
	_, errOut, code := run(t, cmd("requests", "--id", "no-such-request")...)
	if code == 0 || !strings.Contains(errOut, "no request with id") {
		t.Errorf("unknown id: exit %d, %s", code, errOut)
	}

	out, errOut, code = run(t, cmd("requests", "chat", "--limit", "3")...)
	if code != 0 || strings.Count(out, "\n") != 4 || !strings.Contains(errOut, "showing the newest 3 requests; more match") {
		t.Errorf("cut list: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code = run(t, cmd("requests", "chat", "--limit", "5")...)
	if code != 0 || strings.Count(out, "\n") != 6 || errOut != "" {
		t.Errorf("exact fit must not say more match: exit %d\n%s\n%s", code, out, errOut)
	}
	_, errOut, code = run(t, cmd("audit", "chat", "--limit", "1")...)
	if code != 0 || !strings.Contains(errOut, "showing the newest 1 entries; more match") {
		t.Errorf("cut audit: exit %d, %s", code, errOut)
	}

	cl := &api.Client{BaseURL: gw.AdminURL(), Token: token}
	all, err := cl.ListAudit(context.Background(), sluice.AuditQuery{Model: "chat"})
	if err != nil || all.Truncated || len(all.Entries) == 0 {
		t.Fatalf("audit: %d entries, truncated %v, %v", len(all.Entries), all.Truncated, err)
	}
	exact, err := cl.ListAudit(context.Background(), sluice.AuditQuery{Model: "chat", Limit: len(all.Entries)})
	if err != nil || exact.Truncated || len(exact.Entries) != len(all.Entries) {
		t.Errorf("exact fit: %d entries, truncated %v, %v", len(exact.Entries), exact.Truncated, err)
	}
	short, err := cl.ListRequests(context.Background(), sluice.RequestQuery{Model: "chat", Limit: 4})
	if err != nil || !short.Truncated || len(short.Requests) != 4 {
		t.Errorf("cut requests: %d rows, truncated %v, %v", len(short.Requests), short.Truncated, err)
	}
}
