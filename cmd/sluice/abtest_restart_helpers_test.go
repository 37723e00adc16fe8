package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// abAnswer is one answer of an A/B test's traffic: its request id and the
// model that answered it (code-1 is c1's, code-2 c2's).
type abAnswer struct{ id, model string }

// runABToWait starts an A/B test of c2 against model code's c1 on the
// gateway at gwURL (reliabilityGateway's), 50/50 with 30 answers per arm
// and a wait of wait for late scores, and sends users' chat completions
// (openai-go) in rounds of 20 until the test begins its wait. It returns
// the rollout as it began the wait, every answer, and which of them the
// report counts: the split's, answered before the sample was reached (a
// round may straddle it), as the request log says.
func runABToWait(t *testing.T, cl *api.Client, gwURL string, wait time.Duration, reason string) (sluice.Rollout, []abAnswer, map[string]bool) {
	t.Helper()
	ctx := context.Background()
	spec := sluice.RolloutSpec{Model: "code", Candidate: "c2", Strategy: sluice.StrategyABTest, CanaryPercent: 50, ABSamples: 30,
		ABFeedbackWait: new(sluice.Duration(wait)), Warmup: sluice.WarmupSpec{Skip: true},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(200 * time.Millisecond)}}
	started, err := cl.StartRollout(ctx, spec, reason)
	if err != nil {
		t.Fatal(err)
	}
	waitRollout(t, cl, "code", 30*time.Second, func(r sluice.Rollout) bool { return r.Phase == sluice.PhaseProgressing })

	var answers []abAnswer
	sdk := openai.NewClient(option.WithBaseURL(gwURL+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	var r sluice.Rollout
	for round := 0; ; round++ {
		st, err := cl.Rollout(ctx, "code")
		if r = st.Rollout; err == nil && r.ID == started.ID && r.FeedbackWait != nil {
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
			answers = append(answers, abAnswer{raw.Header.Get("X-Request-Id"), resp.Model})
		}
		time.Sleep(600 * time.Millisecond)
	}
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
	return r, answers, inSample
}
