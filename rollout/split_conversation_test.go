package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_JudgesSplitConversations: during a canary, the later
// turns of the Responses conversations the split began (route
// previous_response, SplitConversation) are the split's: the analysis
// judges them and the stage's sample (min_samples) counts them, so a
// candidate that fails only later turns fails its canary. The turns of a
// conversation begun with a pin are left out, and the verdict says so.
func TestController_JudgesSplitConversations(t *testing.T) {
	var rec *observe.Recorder
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		rec = observe.New(observe.Options{Now: o.Now})
		o.Windows, o.Shadow = rec, &rvShadow{}
	})
	r := e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10})
	at := e.clock.Now().Add(time.Second)
	turn := func(version, route string, split bool, class string) {
		o := sluice.Observation{Model: "chat", Version: version, Route: route, SplitConversation: split, At: at, Status: 200,
			Latency: 100 * time.Millisecond, OutputTokens: 50, ResponseChars: 200}
		if class != "" {
			o.Status, o.ErrorClass = 502, class
		}
		rec.Record(&o)
	}
	// 100 conversations on each arm, a first turn and 3 later ones; the
	// candidate fails every conversation's last turn.
	for range 100 {
		for _, v := range []string{"v1", "v2"} {
			turn(v, "split", false, "")
			turn(v, "previous_response", true, "")
			turn(v, "previous_response", true, "")
			class := ""
			if v == "v2" {
				class = "upstream_5xx"
			}
			turn(v, "previous_response", true, class)
		}
	}
	// A QA suite's 10 conversations pinned to the candidate, 4 turns each.
	for range 10 {
		turn("v2", "pin", false, "")
		for range 3 {
			turn("v2", "previous_response", false, "")
		}
	}
	v, stageN := e.c.Analyze(&r, at.Add(time.Minute))
	if v.CandidateN != 400 || stageN != 400 || e.c.StageSamples(&r) != 400 {
		t.Errorf("judged %d candidate requests, stage sample %d (StageSamples %d); want 400 each, every turn of the split's conversations", v.CandidateN, stageN, e.c.StageSamples(&r))
	}
	if !strings.Contains(v.Reason, "not judged: 40 candidate requests") {
		t.Errorf("reason %q does not say the pinned conversations' 40 candidate requests were not judged", v.Reason)
	}
	if v.Outcome != sluice.OutcomeFail {
		t.Errorf("a candidate failing a quarter of its conversations' turns: %s (%s), want fail", v.Outcome, v.Reason)
	}
}
