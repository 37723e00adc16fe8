package main

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// TestABTest_GuardrailRollsBack: an A/B test of a candidate that fails 8%
// of its requests, on a real gateway with the OpenAI SDK's traffic. The
// test ran to its planned 5,000 requests a side whatever its analyses
// said, its users getting errors all along. Its error rate is now its
// guardrail: it is rolled back, traffic back on the baseline, long before
// the sample is reached. (A candidate failing 30% is caught sooner by
// outlier ejection, five failures in a row; at 8% that is rare.)
func TestABTest_GuardrailRollsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an A/B test on live traffic (skipped under -short)")
	}
	// Outlier ejection off: five failures in a row, rare at 8% but not
	// never over a few thousand requests, would roll it back first.
	gw, token, _ := rolloutGateway(t, fakellm.Behavior{}, fakellm.Behavior{ErrorRate: 0.08}, func(c *config.Gateway) { c.OutlierEjection.Disabled = true })
	ctx := context.Background()
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Strategy: sluice.StrategyABTest, ABSamples: 5000,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(100 * time.Millisecond)}, Warmup: sluice.WarmupSpec{Skip: true}}
	if _, err := api.NewClient(gw.AdminURL(), token).StartRollout(ctx, spec, "does the new fine-tune refuse less?"); err != nil {
		t.Fatal(err)
	}
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	var n atomic.Int64
	driveUntilEnded(gw, 4, func(user string) {
		n.Add(1)
		sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", User: openai.String(user),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("how do I reset my password?")}})
	})
	r := gw.Control.Registry().Rollouts["chat"]
	if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, "guardrail") || !strings.Contains(r.Decision, "error rate") {
		t.Fatalf("after %d requests: phase %s, decision %q; want rolled back by the guardrail on the error rate", n.Load(), r.Phase, r.Decision)
	}
	// The report of the sample so far is on the timeline, marked as such.
	if rep := rollout.ABReportOf(*r); rep == nil || !rep.StoppedEarly || rep.PlannedN != 5000 {
		t.Errorf("report after the guardrail's rollback: %+v; want one of the sample so far, stopped early", rep)
	}
	if p := gw.Control.Registry().Models["chat"].Policy; strings.Contains(p.String(), "v1.2.0") {
		t.Errorf("policy after the rollback %s, want the baseline's routing back", p)
	}
	t.Logf("after %d requests: %s", n.Load(), r.Decision)
}
