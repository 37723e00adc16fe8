package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
)

// TestABTestConcludeThroughCLI walks an experimenter's flow on a real
// gateway over loopback: an A/B test runs on users' traffic (the OpenAI
// SDK) to its planned sample and completes, traffic back on the baseline.
// Before, shipping the winner took a policy, a label and a stage change
// by hand, none of them naming the test, and `sluice rollout promote`
// answered "it has ended; start a new rollout". Now `sluice rollout
// status` says the next step, and `sluice rollout conclude chat --pick
// candidate --reason …` ships it in one step, in the audit log with the
// report's winner; the SDK's next requests reach the candidate. The
// users' feedback (POST /v1/feedback) is its own quality row, apart from
// the heuristic's.
func TestABTestConcludeThroughCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an A/B test on live traffic (skipped under -short)")
	}
	gw, token, g := rolloutGateway(t, fakellm.Behavior{RefusalRate: 0.5}, fakellm.Behavior{})
	ctx := context.Background()
	cl := api.NewClient(gw.AdminURL(), token)
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyABTest, ABSamples: 150, ABFeedbackWait: new(sluice.Duration(time.Second)),
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := cl.StartRollout(ctx, spec, "does the new fine-tune refuse less?"); err != nil {
		t.Fatal(err)
	}

	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	var feedbackN atomic.Int64
	ask := func(user string) (string, error) {
		var raw *http.Response
		resp, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("how do I reset my password?")}}, option.WithResponseInto(&raw))
		if err != nil {
			return "", err
		}
		// A third of the users say what they thought: of the baseline's
		// answers, thumbs up; of the candidate's (which the heuristic
		// scores higher: it never refuses), every other one thumbs down.
		if n := feedbackN.Add(1); n%3 == 0 {
			score := 1
			if resp.Model == "ft-2" && n%2 == 0 {
				score = 0
			}
			body := fmt.Sprintf(`{"request_id":%q,"score":%d}`, raw.Header.Get("X-Request-Id"), score)
			if fr, err := http.Post(gw.URL()+"/v1/feedback", "application/json", strings.NewReader(body)); err == nil {
				fr.Body.Close()
			}
		}
		return resp.Model, nil
	}
	driveUntilEnded(gw, 4, func(user string) { ask(user) })
	if r := gw.Control.Registry().Rollouts["chat"]; r.Phase != sluice.PhaseCompleted {
		t.Fatalf("phase %s: %s", r.Phase, r.Decision)
	}

	status := mustRun(t, append([]string{"rollout", "status", "chat"}, g...)...)
	// The users' feedback has a row of its own: in one row with the
	// heuristic's score of every answer it was outweighed, and the report
	// said "the candidate wins on quality".
	for _, want := range []string{"A/B report: MIXED", "quality (feedback)", "quality (heuristic)", "worse on quality (feedback)", "sluice rollout conclude chat --pick candidate|baseline"} {
		if !strings.Contains(status, want) {
			t.Errorf("status after the A/B test completed does not say %q:\n%s", want, status)
		}
	}
	t.Logf("sluice rollout status chat:\n%s", status)
	_, errOut, code := run(t, append([]string{"rollout", "promote", "chat", "--reason", "ship it"}, g...)...)
	if code == 0 || !strings.Contains(errOut, "sluice rollout conclude chat --pick candidate") {
		t.Errorf("promote after completion: exit %d: %s", code, errOut)
	}
	_, errOut, code = run(t, append([]string{"rollout", "conclude", "chat", "--pick", "v1.2.0", "--reason", "x"}, g...)...)
	if code == 0 || !strings.Contains(errOut, "--pick candidate") {
		t.Errorf("conclude --pick v1.2.0: exit %d: %s", code, errOut)
	}

	out := mustRun(t, append([]string{"rollout", "conclude", "chat", "--pick", "candidate", "--reason", "refuses far less"}, g...)...)
	if !strings.Contains(out, "promoted") || !strings.Contains(out, "winner mixed)") {
		t.Errorf("conclude said:\n%s", out)
	}
	t.Logf("sluice rollout conclude chat --pick candidate:\n%s", out)
	for i := range 20 {
		m, err := ask(fmt.Sprintf("after-%d", i))
		if err != nil || m != "ft-2" {
			t.Fatalf("request after shipping: model %q, %v; want the candidate's ft-2", m, err)
		}
	}
	audit := mustRun(t, append([]string{"audit", "chat"}, g...)...)
	if !strings.Contains(audit, "rollout.conclude") || !strings.Contains(audit, "refuses far less") {
		t.Errorf("audit does not record the conclusion:\n%s", audit)
	}
	_, errOut, code = run(t, append([]string{"rollout", "conclude", "chat", "--pick", "baseline", "--reason", "again"}, g...)...)
	if code == 0 || !strings.Contains(errOut, "sluice rollout undo chat") {
		t.Errorf("a second conclusion: exit %d: %s", code, errOut)
	}
}
