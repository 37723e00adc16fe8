package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// TestABTestLateFeedback is the trial's case on a real gateway over
// loopback: users (the OpenAI SDK) rate answers only after the A/B test
// has reached its sample, through POST /v1/feedback. Every rating got a
// 202 and none was in the report, drawn at the sample: it had no quality
// (feedback) row and found no difference where users disliked the
// candidate. Now the test waits ab_feedback_wait, `sluice rollout status`
// says so and until when, and the report counts the late ratings for the
// versions that answered, naming the baseline.
func TestABTestLateFeedback(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an A/B test on live traffic (skipped under -short)")
	}
	gw, token, g := rolloutGateway(t, fakellm.Behavior{}, fakellm.Behavior{})
	ctx := context.Background()
	cl := api.NewClient(gw.AdminURL(), token)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyABTest, ABSamples: 100,
		ABFeedbackWait: new(sluice.Duration(4 * time.Second)),
		Analysis:       sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := cl.StartRollout(ctx, spec, "do users like the new fine-tune?"); err != nil {
		t.Fatal(err)
	}
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	type answer struct{ id, model string }
	var (
		mu      sync.Mutex
		answers []answer
	)
	ask := func(user string) {
		var raw *http.Response
		resp, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("how do I reset my password?")}}, option.WithResponseInto(&raw))
		if err != nil {
			return
		}
		mu.Lock()
		answers = append(answers, answer{raw.Header.Get("X-Request-Id"), resp.Model})
		mu.Unlock()
	}
	// The users rate once the test has reached its sample, and never
	// before: all of them late.
	rated := make(chan int, 1)
	go func() {
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if r := gw.Control.Registry().Rollouts["chat"]; r.FeedbackWait != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Second)
		mu.Lock()
		got := append([]answer(nil), answers...)
		mu.Unlock()
		// Eight users at once, so that a loaded machine still sends
		// every rating well inside the 4 s wait.
		var n atomic.Int64
		var wg sync.WaitGroup
		next := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range next {
					a := got[i]
					score := 1
					if a.model == "ft-2" && i%2 == 0 {
						score = 0 // users dislike half the candidate's answers
					}
					body := fmt.Sprintf(`{"request_id":%q,"score":%d}`, a.id, score)
					if fr, err := http.Post(gw.URL()+"/v1/feedback", "application/json", strings.NewReader(body)); err == nil {
						if fr.StatusCode == http.StatusAccepted {
							n.Add(1)
						}
						fr.Body.Close()
					}
				}
			})
		}
		for i := range got {
			next <- i
		}
		close(next)
		wg.Wait()
		rated <- int(n.Load())
	}()
	status := make(chan string, 1)
	go func() {
		for gw.Control.Registry().Rollouts["chat"].FeedbackWait == nil {
			time.Sleep(20 * time.Millisecond)
		}
		out, _, _ := run(t, append([]string{"rollout", "status", "chat"}, g...)...)
		status <- out
	}()
	driveUntilEnded(gw, 4, ask)
	n := <-rated
	var waiting string
	select {
	case waiting = <-status:
	case <-time.After(30 * time.Second):
	}
	r := *gw.Control.Registry().Rollouts["chat"]
	if r.Phase != sluice.PhaseCompleted || n == 0 {
		t.Fatalf("phase %s (%s), %d ratings accepted; want completed after the late ratings", r.Phase, r.Decision, n)
	}
	if !strings.Contains(waiting, "waiting for users' feedback until") {
		t.Errorf("status during the wait does not say it waits for feedback:\n%s", waiting)
	}
	rep := rollout.ABReportOf(r)
	var row string
	for _, m := range rep.Metrics {
		if m.Metric == "quality" && m.Source == "feedback" {
			row = fmt.Sprintf("%.2f vs %.2f on %d/%d, winner %s", m.Baseline, m.Candidate, m.BaselineN, m.CandidateN, m.Winner)
			if m.Winner != "baseline" || m.BaselineN == 0 || m.CandidateN == 0 {
				t.Errorf("quality (feedback): %s; want the baseline, on the late ratings", row)
			}
		}
	}
	if row == "" {
		t.Fatalf("the report has no quality (feedback) row though %d ratings arrived in the wait: %s", n, rep.Summary)
	}
	t.Logf("%d late ratings; quality (feedback) %s; %s", n, row, rep.Summary)
}
