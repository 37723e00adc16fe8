package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestCanary_UsersFeedbackRollsBack: a canary whose answers look as good to
// the heuristic as the baseline's, but whose users thumb down two answers
// in three (against one in five of the baseline's), on a real gateway:
// the OpenAI SDK's requests, feedback through POST /v1/feedback on one
// answer in ten. The canary analysis compared one quality row of every
// score, where the heuristic's score of every answer outweighed the
// feedback: the candidate took 21,191 requests, the drop of the combined
// mean creeping up to its threshold (0.92 against 0.98), before it was
// rolled back. It is rolled back now on the feedback's own row, after
// about 1,800 (0.33 against 0.80).
func TestCanary_UsersFeedbackRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a canary on live traffic (skipped under -short)")
	}
	gw, token, g := rolloutGateway(t, fakellm.Behavior{}, fakellm.Behavior{})
	ctx := context.Background()
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyCanary, CanaryPercent: 50,
		// Latency is what a loaded machine moves between two identical
		// backends: its thresholds are out of reach here, so that the
		// feedback, what this test is about, decides (a latency row
		// failing first under the full -race run rolled back with the
		// feedback's row not yet failing). So is the quality row of every
		// score's drop: it holds the feedback too, diluted by the
		// heuristic's score of every answer to about -0.05, past its
		// default threshold (0.05) when chance gave the candidate more of
		// the feedback (45 against 30 scores in a CI run, -0.06: rolled
		// back on that row, the feedback's not yet failing). A drop of 0.2
		// keeps it out of reach and leaves the feedback's (-0.49) far past.
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond),
			Thresholds: sluice.Thresholds{LatencyRel: 100, LatencyAbsMS: 60000, QualityAbs: 0.2}},
		Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := api.NewClient(gw.AdminURL(), token).StartRollout(ctx, spec, "a fine-tune users like less"); err != nil {
		t.Fatal(err)
	}

	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	var n, baseFB, candFB atomic.Int64
	ask := func(user string) {
		var raw *http.Response
		resp, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("how do I reset my password?")}}, option.WithResponseInto(&raw))
		if err != nil || n.Add(1)%10 != 0 {
			return
		}
		score := 1
		if resp.Model == "ft-2" {
			if candFB.Add(1)%3 != 0 {
				score = 0
			}
		} else if baseFB.Add(1)%5 == 0 {
			score = 0
		}
		body := fmt.Sprintf(`{"request_id":%q,"score":%d}`, raw.Header.Get("X-Request-Id"), score)
		if fr, err := http.Post(gw.URL()+"/v1/feedback", "application/json", strings.NewReader(body)); err == nil {
			fr.Body.Close()
		}
	}
	driveUntilEnded(gw, 4, ask)
	r := gw.Control.Registry().Rollouts["chat"]
	// The feedback's own row must be among the failing ones. The decision
	// names the first few failing rows, and which of the feedback rows
	// (all traffic, or the one category) comes first, or whether they are
	// named before "and N more", depends on their evidence: read the
	// verdict's rows, not the sentence.
	var v sluice.Verdict
	if len(r.LastVerdict) > 0 {
		if err := json.Unmarshal(r.LastVerdict, &v); err != nil {
			t.Fatal(err)
		}
	}
	feedbackFailed := slices.ContainsFunc(v.Metrics, func(m sluice.MetricVerdict) bool {
		return m.Metric == "quality" && m.Source == "feedback" && m.Outcome == sluice.OutcomeFail
	})
	if r.Phase != sluice.PhaseRolledBack || !feedbackFailed {
		t.Fatalf("after %d requests (%d and %d feedback scores to the baseline and the candidate): phase %s, feedback row failed %v, decision %q; want rolled back on quality (feedback)",
			n.Load(), baseFB.Load(), candFB.Load(), r.Phase, feedbackFailed, r.Decision)
	}
	t.Logf("rolled back after %d requests: %s", n.Load(), r.Decision)

	// The feedback's row is a guard, as every source's row is: it says so
	// in `sluice rollout status` as "latency_p99 (guard)" does, and in its
	// JSON.
	out := mustRun(t, append([]string{"rollout", "status", "chat"}, g...)...)
	if !strings.Contains(out, "quality (feedback, guard)") || strings.Contains(out, "\n  quality (feedback) ") {
		t.Errorf("rollout status does not name the feedback's row a guard:\n%s", out)
	}
	var st api.RolloutStatus
	if err := json.Unmarshal([]byte(mustRun(t, append([]string{"rollout", "status", "chat", "-o", "json"}, g...)...)), &st); err != nil || st.Verdict == nil {
		t.Fatalf("rollout status -o json: %v", err)
	}
	for _, m := range st.Verdict.Metrics {
		if m.Source != "" && !m.Guard {
			t.Errorf("row %s in %q: guard false in the JSON, want true", m.Name(), m.Category)
		}
	}
}

// rolloutGateway starts a gateway on SQLite with the review models, the
// stable version served by a backend behaving as base and the candidate
// (v1.2.0, model ft-2) as cand, its configuration changed by mutate, and
// returns it with an admin token and the CLI's flags to reach it.
func rolloutGateway(t *testing.T, base, cand fakellm.Behavior, mutate ...func(*config.Gateway)) (gw *server.Server, token string, g []string) {
	t.Helper()
	gw, token, g, _, _ = rolloutGatewayBackends(t, base, cand, mutate...)
	return gw, token, g
}

// rolloutGatewayBackends is rolloutGateway, returning the two backends too
// (for their fault controls).
func rolloutGatewayBackends(t *testing.T, base, cand fakellm.Behavior, mutate ...func(*config.Gateway)) (gw *server.Server, token string, g []string, b, c *fakellm.Server) {
	t.Helper()
	b, c = reviewBackend(t, base), reviewBackend(t, cand)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.Rollouts.Tick = 50 * time.Millisecond
	for _, m := range mutate {
		m(&cfg)
	}
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	if token, err = gw.EnsureBootstrapToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	g, _, _ = applyReviewModels(t, gw.AdminURL(), token, b.URL(), c.URL())
	return gw, token, g, b, c
}

// driveUntilEnded sends requests from workers goroutines, each user new,
// through ask until chat's rollout is no longer active or 90 s have
// passed (the caller checks how it ended).
func driveUntilEnded(gw *server.Server, workers int, ask func(user string)) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ask(fmt.Sprintf("user-%d-%d", w, i))
			}
		}()
	}
	deadline := time.Now().Add(90 * time.Second)
	for gw.Control.Registry().Rollouts["chat"].Phase.Active() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
}
