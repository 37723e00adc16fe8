package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
)

// What the user does: restarts the gateway (a config change, an upgrade),
// sees its traffic come back at 20 requests/s, and asks sluice plan what a
// rollout would take.
// What must happen: the plan's rate is the traffic since the gateway
// started, not that traffic spread over 5 minutes of which the gateway saw
// a few seconds: "at the current 0.2 requests/s" and "about 1 candidate
// requests in the hold (fewer than the 500 needed: the stage will wait for
// them)" for a model at 20 requests/s were wrong for the first 5 minutes
// after every start.
func TestPlan_RateSinceTheGatewayStarted(t *testing.T) {
	began := time.Now() // before the gateway (and its Recorder) starts
	gw, file, cmd := readmeGateway(t)
	up := time.Now() // after it started
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	// 60 requests, one every 50 ms: about 20 requests/s for 3 s.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := range 60 {
		<-tick.C
		if _, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", User: openai.String(fmt.Sprint("u", i)),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
			t.Fatal(err)
		}
	}
	var plan struct {
		Rate float64 `json:"requests_per_second"`
	}
	asked := time.Now()
	if err := json.Unmarshal([]byte(mustRun(t, cmd("plan", "chat", "v1.2.0", "-o", "json")...)), &plan); err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	// The rate is the 60 requests over the time from the gateway's start
	// (between began and up) to the plan's answer (between asked and
	// answered): bounds measured, not guessed, so a slow machine moves
	// them rather than failing the test. 60 over 5 minutes (0.2/s) lies
	// below them unless the test took 5 minutes.
	lo, hi := 60/answered.Sub(began).Seconds(), 60/asked.Sub(up).Seconds()
	if plan.Rate < lo*0.999 || plan.Rate > hi*1.001 {
		t.Errorf("the plan's rate is %.3g requests/s after 60 requests in the gateway's first %s, want %.3g to %.3g (about 20)", plan.Rate, answered.Sub(began).Round(time.Millisecond), lo, hi)
	}
}
