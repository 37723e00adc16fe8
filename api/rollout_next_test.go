package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// TestWaitingFor_StageSampleAndHoldIn: a progressive stage whose sample and
// hold are in waits for a passing analysis; the dashboard's card showed
// "327 of 100" and "8 s of 8 s" with nothing saying so. The API's status
// says it (Next), as the CLI's Next line does.
func TestWaitingFor_StageSampleAndHoldIn(t *testing.T) {
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 10, StartedAt: t0, StageStartedAt: t0,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1.0.0", Candidate: "v1.1.0", Strategy: sluice.StrategyProgressive,
			Stages: []sluice.RolloutStage{{Percent: 10, Hold: sluice.Duration(8 * time.Second), MinSamples: 100}, {Percent: 100}}}}
	for _, c := range []struct {
		what    string
		samples int
		at      time.Duration
		want    string
	}{
		{"sample and hold in", 327, time.Minute, "the sample and hold are in: the next step comes when the analysis passes"},
		{"sample in, hold not", 327, 3 * time.Second, "the stage's hold ends in 5s, then the next step waits for a passing analysis"},
		{"sample not in", 45, time.Minute, ""},
	} {
		got := api.WaitingFor(api.RolloutStatus{Rollout: r, StageSamples: c.samples, StageNeed: 100}, t0.Add(c.at))
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: WaitingFor = %q, want %q", c.what, got, c.want)
		}
	}
}

// TestServer_RolloutStatusNext: the rollout's status says what it waits
// for (a canary holds its share until an operator promotes it), in its
// field next, for the dashboard and any client.
func TestServer_RolloutStatusNext(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	r := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 10, StartedAt: t0, StageStartedAt: t0,
		Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1.0.0", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary, CanaryPercent: 10}}
	if _, err := e.Ctl.Do(context.Background(), "test", "a canary", func(ed *sluice.Edit) error { return ed.PutRollout(r) }); err != nil {
		t.Fatalf("put rollout: %v", err)
	}
	res := e.do(t, "GET", "/admin/v1/rollouts/chat", viewerSecret, nil)
	res.want(t, http.StatusOK)
	var body struct {
		Next string `json:"next"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("answer: %v: %s", err, res.Body)
	}
	if !strings.HasPrefix(body.Next, "a canary holds its share until you act: sluice rollout promote chat") {
		t.Errorf("next = %q, want the canary's wait for a promotion: %s", body.Next, res.Body)
	}
}

// TestWaitingFor_Webhooks: a rollout whose pre_rollout webhook runs, or
// whose promotion waits for a confirm_promotion webhook, says which, and
// what it last answered.
func TestWaitingFor_Webhooks(t *testing.T) {
	spec := sluice.RolloutSpec{Model: "chat", Baseline: "v1.0.0", Candidate: "v1.1.0", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{{Percent: 10}, {Percent: 100}}}
	warming := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseWarming, Spec: spec, Events: []sluice.RolloutEvent{
		{At: t0, Kind: "started"}, {At: t0.Add(time.Second), Kind: "webhook", Message: "calling webhook golden-set (pre_rollout, call chat-1-ab) before the candidate takes traffic"}}}
	if got := api.WaitingFor(api.RolloutStatus{Rollout: warming}, t0.Add(time.Minute)); !strings.Contains(got, "no traffic moves until it answers") || !strings.Contains(got, "Since 59s ago: calling webhook golden-set") {
		t.Errorf("warming: %q", got)
	}
	held := sluice.Rollout{ID: "chat-1", Phase: sluice.PhaseProgressing, Percent: 10, Spec: spec,
		WebhookWait: &sluice.WebhookWait{Webhook: "release", Message: "change freeze", Since: t0, Asked: 4}}
	if got := api.WaitingFor(api.RolloutStatus{Rollout: held}, t0.Add(time.Minute)); !strings.HasPrefix(got, "the promotion waits for webhook release (confirm_promotion), asked every analysis interval since 1m0s ago; it last answered: change freeze") {
		t.Errorf("held: %q", got)
	}
}
