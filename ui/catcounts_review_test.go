package ui_test

import (
	"encoding/json"
	"testing"
	"time"

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
	waitFor(t, "12000 payments requests", 120*time.Second, func() bool {
		return g.Recorder.Window("chat", "v1.0.0", "payments", time.Time{}).Total.Requests >= 12000
	})
	l.finish()
	total := g.Recorder.Window("chat", "v1.0.0", "payments", time.Time{}).Total.Requests

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
