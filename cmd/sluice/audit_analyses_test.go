package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestAudit_LeavesOutAnalyses: the controller writes a rollout.analysis
// entry for each live rollout every analysis interval, so sluice audit
// (100 entries by default) soon listed mostly them and hid who changed
// what. It now leaves them out, says how many and which flag shows them,
// and its limit counts the entries it shows.
func TestAudit_LeavesOutAnalyses(t *testing.T) {
	gw, token := startGateway(t)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	mustRun(t, append([]string{"token", "create", "alice", "--role", "viewer", "--reason", "on call"}, g...)...)
	mustRun(t, append([]string{"token", "create", "bob", "--role", "viewer", "--reason", "on call too"}, g...)...)
	ctx := context.Background()
	reg, err := gw.Store.LoadRegistry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 150
	var entries []sluice.AuditEntry
	for i := range n {
		entries = append(entries, sluice.AuditEntry{At: time.Now(), Actor: "controller", Action: "rollout.analysis", Model: "chat",
			Subject: "chat-r1", Reason: fmt.Sprintf("analysis %d of chat-r1", i)})
	}
	if _, err := gw.Store.Commit(ctx, sluice.Change{BaseRevision: reg.Revision, Audit: entries}); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := run(t, append([]string{"audit", "--limit", "2"}, g...)...)
	if code != 0 {
		t.Fatalf("sluice audit: exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "rollout.analysis") || strings.Count(out, "token.create") != 2 {
		t.Errorf("sluice audit --limit 2 lists:\n%s\nwant the two token.create entries, without the analyses after them", out)
	}
	if want := fmt.Sprintf("left out %d rollout.analysis entries", n); !strings.Contains(errOut, want) || !strings.Contains(errOut, "--analyses") {
		t.Errorf("sluice audit stderr:\n%s\nwant %q and the flag that shows them", errOut, want)
	}

	out, errOut, _ = run(t, append([]string{"audit", "--analyses", "--limit", "5"}, g...)...)
	if strings.Count(out, "rollout.analysis") != 5 || strings.Contains(errOut, "left out") {
		t.Errorf("sluice audit --analyses --limit 5:\n%s%s\nwant five analyses and no note", out, errOut)
	}
	out, errOut, _ = run(t, append([]string{"audit", "--action", "rollout.analysis", "--limit", "5"}, g...)...)
	if strings.Count(out, "rollout.analysis") != 5 || strings.Contains(errOut, "left out") {
		t.Errorf("sluice audit --action rollout.analysis --limit 5:\n%s%s\nwant five analyses and no note", out, errOut)
	}
	// Other filters count what they select.
	_, errOut, _ = run(t, append([]string{"audit", "--grep", "analysis 1"}, g...)...)
	if want := "left out 61 rollout.analysis entries"; !strings.Contains(errOut, want) { // 1, 10-19, 100-149
		t.Errorf("sluice audit --grep 'analysis 1' stderr:\n%s\nwant %q", errOut, want)
	}

	// The API (the bootstrap token's creation is audited too: 3 token.create): exclude_action is repeatable, a prefix, and answers how
	// many it left out; an empty one is refused rather than leaving out
	// everything.
	get := func(query string) (int, string) {
		req, _ := http.NewRequest("GET", gw.AdminURL()+"/admin/v1/audit?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("exclude_action=rollout.&exclude_action=token.&limit=3"); code != 200 || !strings.Contains(body, `"excluded": 153`) || strings.Contains(body, "rollout.analysis") || strings.Contains(body, "token.create") {
		t.Errorf("exclude_action rollout. and token.: %d %s", code, body)
	}
	if code, body := get("exclude_action="); code != 422 || !strings.Contains(body, "exclude_action") {
		t.Errorf("empty exclude_action: %d %s, want 422 naming it", code, body)
	}
}
