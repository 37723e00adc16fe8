package ui_test

// The tests here came from a review, with the bugs they found; their
// comments say what the dashboard did before the fix.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// TestSeriesKeepsRolloutArmsWithManyVersions: a model whose stable
// version has stayed while a dozen candidates came and went (the recorder
// keeps a window for every version it has seen) must still chart the
// running rollout's baseline. The sampler keeps only the last 12 versions
// in lexicographic order, so "v1.0.0" falls off and the live comparison
// shows the candidate alone.
func TestSeriesKeepsRolloutArmsWithManyVersions(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 2})
	g := MustGateway(t, stable, cand)
	// Earlier candidates, each observed once while it was tried.
	versions := []string{"v1.0.0", "v1.1.0"}
	for i := 2; i <= 12; i++ {
		versions = append(versions, fmt.Sprintf("v1.%d.0", i))
	}
	now := time.Now()
	for _, v := range versions {
		for i := 0; i < 5; i++ {
			g.Recorder.Record(&sluice.Observation{At: now, Model: "chat", Version: v, Route: "policy", Endpoint: "/v1/chat/completions", Status: 200, Latency: 20 * time.Millisecond})
		}
	}
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary of the new fine-tune", canarySpec()); err != nil {
		t.Fatalf("start rollout: %v", err)
	}
	b := signIn(t, g.AdminURL(), g.viewer)
	var a ui.SeriesAnswer
	waitFor(t, "the sampler's first points", 10*time.Second, func() bool {
		resp, body := b.do("GET", "/ui/api/series?model=chat", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("series: %d %s", resp.StatusCode, body)
		}
		a = ui.SeriesAnswer{}
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		return len(a.Series) > 0
	})
	if a.Baseline != "v1.0.0" || a.Candidate != "v1.1.0" {
		t.Fatalf("arms %q → %q", a.Baseline, a.Candidate)
	}
	for _, v := range []string{a.Baseline, a.Candidate} {
		if len(a.Series[v]) == 0 {
			got := []string{}
			for k := range a.Series {
				got = append(got, k)
			}
			t.Errorf("the rollout's arm %s has no points in the live comparison; versions charted: %v", v, got)
		}
	}
}
