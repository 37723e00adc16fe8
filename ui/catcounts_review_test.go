package ui_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// What the user does: opens "By request category" on a busy model; the page
// says the numbers are "since" a time (the candidate going live, or 15
// minutes ago without a rollout) and shows each category's request count.
// What happens now: each cell is computed from the recorder's bounded
// window (8192 observations per category, 65536 per version), so once a
// category has served more than that, its "Requests" is the window size
// (8192 for every busy category) and the rates cover only the newest
// observations, while the header still claims the whole span since then;
// the answer carries no hint of the truncation (Since is unchanged).
// What should happen: the count since Since is the real count (the window's
// Total counts every observation), or Since is moved to where the numbers
// actually start.
func TestCategoryTableCountsSinceStart(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	l := startLoad(t, g.URL(), 4)
	waitFor(t, "100 payments requests", 60*time.Second, func() bool {
		return g.Recorder.Window("chat", "v1.0.0", "payments", time.Time{}).Total.Requests >= 100
	})
	l.finish()
	// Past the window's 8192 per category: recorded as the proxy records
	// them, since 12,000 requests through the gateway took over two minutes
	// on a busy 2-core machine (CI timed out waiting for them once).
	for range 12000 {
		g.Recorder.Record(&sluice.Observation{Model: "chat", Version: "v1.0.0", Category: "payments", Status: 200,
			Latency: 120 * time.Millisecond, TTFT: 40 * time.Millisecond, OutputTokens: 20})
	}
	w := g.Recorder.Window("chat", "v1.0.0", "payments", time.Time{})
	total := w.Total.Requests
	if !w.Truncated {
		t.Fatalf("the payments window holds all %d requests: it must be past its bound for this test to check anything", total)
	}

	b := signIn(t, g.AdminURL(), g.viewer)
	resp, body := b.do("GET", "/ui/api/categories?model=chat", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("categories: %d %s", resp.StatusCode, body)
	}
	var a ui.CategoriesAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	for _, row := range a.Rows {
		if row.Category != "payments" {
			continue
		}
		got := row.Versions["v1.0.0"].Requests
		if got < total*9/10 && g.Recorder.Window("chat", "v1.0.0", "payments", a.Since).Truncated {
			t.Errorf("payments row says %d requests for v1.0.0 since %s, but %d were served since then (the window's size, not the count)", got, a.Since.Format(time.TimeOnly), total)
		}
		return
	}
	t.Fatalf("no payments row in %s", body)
}
