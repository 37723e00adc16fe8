package ui_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// The dashboard shows each version's tool-call rate where it shows the
// refusal rate: in the category table (and its live chart) for a version
// that answered requests offering tools, and nothing (not 0%) where no
// request offered them.
func TestDashboard_ToolCallRate(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	const tools = `,"tools":[{"type":"function","function":{"name":"transfer_funds","parameters":{"type":"object"}}}]`
	for i, c := range []struct{ category, extra string }{
		{"payments", tools}, {"payments", tools}, {"chat", ""},
	} {
		req, _ := http.NewRequest("POST", g.URL()+"/v1/chat/completions",
			strings.NewReader(`{"model":"chat","metadata":{"category":"`+c.category+`"},"messages":[{"role":"user","content":"pay Bob"}]`+c.extra+`}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, resp.StatusCode)
		}
	}
	waitFor(t, "the observations", 10*time.Second, func() bool {
		return g.Recorder.Window("chat", "v1.0.0", "", time.Time{}).Requests == 3
	})

	b := signIn(t, g.AdminURL(), g.viewer)
	resp, body := b.do("GET", "/ui/api/categories?model=chat", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("categories: %d %s", resp.StatusCode, body)
	}
	var a ui.CategoriesAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]ui.ArmStats{}
	for _, r := range a.Rows {
		rows[r.Category] = r.Versions
	}
	// fakellm answers in prose: a rate of 0 over the two tool requests.
	for _, cat := range []string{"", "payments"} {
		if r := rows[cat]["v1.0.0"].ToolCallRate; r == nil || *r != 0 {
			t.Errorf("%q: tool-call rate %v, want 0 (two tool requests, no call): %s", cat, r, body)
		}
	}
	if r := rows["chat"]["v1.0.0"].ToolCallRate; r != nil {
		t.Errorf("chat: tool-call rate %v, want none (no request offered tools)", *r)
	}

	resp, page := b.do("GET", "/ui/", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(page), `data-metric="tool"`) {
		t.Errorf("the dashboard has no tool-call rate chart: %d", resp.StatusCode)
	}
}
