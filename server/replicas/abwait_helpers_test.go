package replicas_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
)

// abAnswer is one answer of an A/B test's traffic: its request id and the
// version that answered it (X-Model-Version, such as chat:v1.1.0).
type abAnswer struct{ id, version string }

// runABToWait starts, through leader, an A/B test of chat's v1.1.0, 50/50
// with 30 answers per arm and a wait of wait for late scores; sends users'
// chat completions (openai-go) through the replicas rs in turn, in rounds
// of 20, until other (a replica that does not lead) sees the test waiting;
// and returns the rollout as it began, every answer, and which of them the
// report counts: the split's, answered before the sample was reached (a
// round may straddle it), as the fleet's request log says.
func runABToWait(t *testing.T, rs []*replica, leader, other *replica, wait time.Duration, reason string) (sluice.Rollout, []abAnswer, map[string]bool) {
	t.Helper()
	ctx := t.Context()
	ro, err := leader.client.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyABTest, CanaryPercent: 50,
		ABSamples: 30, ABFeedbackWait: new(sluice.Duration(wait)), Warmup: sluice.WarmupSpec{Skip: true},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(200 * time.Millisecond)}}, reason)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		waitPhase(t, r, ro.ID, 20*time.Second, sluice.PhaseProgressing)
	}
	var answers []abAnswer
	sdks := map[*replica]*openai.Client{}
	for _, r := range rs {
		sdk := openai.NewClient(option.WithBaseURL(r.url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		sdks[r] = &sdk
	}
	waiting := func() bool {
		st, err := other.client.Rollout(ctx, "chat")
		return err == nil && st.Rollout.ID == ro.ID && st.Rollout.FeedbackWait != nil
	}
	for round := 0; !waiting(); round++ {
		if round == 40 {
			t.Fatalf("the A/B test did not reach its sample of 30 per arm after %d answers", len(answers))
		}
		for i := range 20 {
			r := rs[i%len(rs)]
			var raw *http.Response
			_, err := sdks[r].Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(fmt.Sprintf("user-%d-%d", round, i)),
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("how do I reset my password?")}}, option.WithResponseInto(&raw))
			if err != nil {
				t.Fatalf("ask %s: %v", r.name, err)
			}
			answers = append(answers, abAnswer{raw.Header.Get("X-Request-Id"), raw.Header.Get("X-Model-Version")})
		}
		time.Sleep(600 * time.Millisecond) // a few analyses, 200 ms apart
	}
	reached := waitPhase(t, other, ro.ID, time.Second, sluice.PhaseProgressing).FeedbackWait.Reached
	inSample := map[string]bool{}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rows, err := other.client.Requests(ctx, sluice.RequestQuery{Model: "chat", Limit: 10 * len(answers)})
		if err == nil && len(rows) >= len(answers) {
			for _, o := range rows {
				inSample[o.RequestID] = o.At.Before(reached) && o.Route == "split"
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request log holds %d of %d answers (%v)", len(rows), len(answers), err)
		}
	}
	return ro, answers, inSample
}
