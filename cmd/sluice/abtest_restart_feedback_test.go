package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/rollout"
)

// TestProcess_ABWaitRestartKeepsRatings: a lone `sluice serve` (SQLite)
// runs an A/B test to its sample; users rate half its answers during the
// wait for late ratings; the gateway is restarted (a config change) and
// users rate the other half. The report counts both sets. Before, the
// ratings lived in the process's memory alone: those before the restart
// were lost with it, and the answers from before it could no longer be
// rated (404, "another gateway process answered it"), so the report had
// no quality (feedback) row at all.
func TestProcess_ABWaitRestartKeepsRatings(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	good := startFakellm(t, "")
	cfg, _ := reliabilityGateway(t, good, good, "")
	gw := startServe(t, cfg, testEnv...)
	ctx := context.Background()
	cl := api.NewClient(gw.url, testAdminSecret)
	spec := sluice.RolloutSpec{Model: "code", Candidate: "c2", Strategy: sluice.StrategyABTest, CanaryPercent: 50, ABSamples: 30,
		ABFeedbackWait: new(sluice.Duration(30 * time.Second)), Warmup: sluice.WarmupSpec{Skip: true},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(200 * time.Millisecond)}}
	started, err := cl.StartRollout(ctx, spec, "do users like c2?")
	if err != nil {
		t.Fatal(err)
	}
	waitRollout(t, cl, "code", 30*time.Second, func(r sluice.Rollout) bool { return r.Phase == sluice.PhaseProgressing })

	// The test's traffic, in rounds until the sample is reached.
	type answer struct{ id, model string }
	var answers []answer
	sdk := openai.NewClient(option.WithBaseURL(gw.url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	waiting := func() (sluice.Rollout, bool) {
		st, err := cl.Rollout(ctx, "code")
		return st.Rollout, err == nil && st.Rollout.ID == started.ID && st.Rollout.FeedbackWait != nil
	}
	var r sluice.Rollout
	for round := 0; ; round++ {
		var ok bool
		if r, ok = waiting(); ok {
			break
		}
		if round == 40 {
			t.Fatalf("the A/B test did not reach its sample of 30 per arm after %d answers", len(answers))
		}
		for i := range 20 {
			var raw *http.Response
			resp, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "code", User: openai.String(fmt.Sprintf("user-%d-%d", round, i)),
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")}}, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatal(err)
			}
			answers = append(answers, answer{raw.Header.Get("X-Request-Id"), resp.Model})
		}
		time.Sleep(600 * time.Millisecond)
	}
	// The report counts the split's answers given before the sample was
	// reached (a round may straddle it): the request log says which.
	inSample := map[string]bool{}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rows, err := cl.Requests(ctx, sluice.RequestQuery{Model: "code", Limit: 10 * len(answers)})
		if err == nil && len(rows) >= len(answers) {
			for _, o := range rows {
				inSample[o.RequestID] = o.At.Before(r.FeedbackWait.Reached) && o.Route == "split"
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request log holds %d of %d answers (%v)", len(rows), len(answers), err)
		}
	}

	rated := map[string]int{}
	rate := func(url string, a answer) {
		t.Helper()
		score := 1
		if a.model == "code-2" {
			score = 0 // users dislike the candidate's answers
		}
		resp, err := http.Post(url+"/v1/feedback", "application/json", strings.NewReader(fmt.Sprintf(`{"request_id":%q,"score":%d}`, a.id, score)))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("rate %s (%s) through %s: %d %s, want 202", a.id, a.model, url, resp.StatusCode, body)
		}
		if inSample[a.id] {
			rated[a.model]++
		}
	}
	half := len(answers) / 2
	for _, a := range answers[:half] {
		rate(gw.url, a)
	}
	before := fmt.Sprint(rated)

	// A platform engineer restarts the gateway for a config change.
	gw.signal(os.Interrupt)
	if code := gw.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d after SIGINT:\n%s", code, gw.log)
	}
	gw2 := startServe(t, cfg, testEnv...)
	cl2 := api.NewClient(gw2.url, testAdminSecret)
	if st, err := cl2.Rollout(ctx, "code"); err != nil || st.Rollout.FeedbackWait == nil {
		t.Fatalf("after the restart the test is %s (%v): its wait was not resumed", st.Rollout.Phase, err)
	}
	for _, a := range answers[half:] {
		rate(gw2.url, a)
	}

	done := waitRollout(t, cl2, "code", 60*time.Second, func(r sluice.Rollout) bool { return r.ID == started.ID && !r.Phase.Active() })
	rep := rollout.ABReportOf(done)
	if done.Phase != sluice.PhaseCompleted || rep == nil {
		t.Fatalf("the test ended %s without a report: %s", done.Phase, done.Decision)
	}
	var row string
	for _, m := range rep.Metrics {
		if m.Metric == "quality" && m.Source == "feedback" {
			row = fmt.Sprintf("baseline %d, candidate %d", m.BaselineN, m.CandidateN)
			if m.BaselineN != rated["code-1"] || m.CandidateN != rated["code-2"] {
				t.Errorf("the report's quality (feedback) row counts %s ratings; users rated baseline %d, candidate %d of the sample's answers (%v before the restart)",
					row, rated["code-1"], rated["code-2"], before)
			}
		}
	}
	if row == "" {
		t.Fatalf("the report has no quality (feedback) row, though users rated %v of the sample's answers (%v before the restart): %s", rated, before, rep.Summary)
	}
	t.Logf("%d answers rated (%v, %v before the restart); report: %s; %s", len(answers), rated, before, row, rep.Summary)
}
