package rollout

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// hookData is a webhook event's data as a reader of the API gets it.
type hookData struct {
	Webhook  string   `json:"webhook"`
	Webhooks []string `json:"webhooks"`
	Type     string   `json:"type"`
	Status   string   `json:"status"`
	Name     string   `json:"name"`
	CallID   string   `json:"call_id"`
	Pass     *bool    `json:"pass"`
	Message  string   `json:"message"`
}

// webhookEvents returns the data of r's webhook events from the n-th on.
func webhookEvents(t *testing.T, r sluice.Rollout, n int) []hookData {
	t.Helper()
	var out []hookData
	for _, e := range r.Events[n:] {
		if e.Kind != "webhook" {
			continue
		}
		var d hookData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("event %q has no readable data (%q): %v", e.Message, e.Data, err)
		}
		out = append(out, d)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestWebhookEventData_Gate: the dashboard read a webhook event's hook,
// type and status from its message, which holds the hook's own answer
// (a fail answered "the error budget holds no headroom" read as held). Each
// webhook event the machine writes now says them in its data, with the
// answer's fields as before; a wait for two hooks names both.
func TestWebhookEventData_Gate(t *testing.T) {
	r, at := lastStage(t, confirmHook("qa"), confirmHook("release"))
	pass := verdict(sluice.OutcomePass, 500, 500)
	n := len(r.Events)
	r, _ = must(t, r, at, Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500})
	want := []hookData{{Webhook: "qa", Webhooks: []string{"qa", "release"}, Type: "confirm_promotion", Status: "waiting"}}
	if got := webhookEvents(t, r, n); !reflect.DeepEqual(got, want) {
		t.Fatalf("the wait's data: %+v, want %+v", got, want)
	}

	// A hold whose answer reads like a pass.
	n = len(r.Events)
	res := []WebhookResult{{Name: "qa", CallID: "c1", Pass: true}, {Name: "release", CallID: "c2", Message: "this holds; passed earlier"}}
	r, _ = must(t, r, at.Add(10*time.Second), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 600, Confirm: res})
	want = []hookData{{Webhook: "release", Type: "confirm_promotion", Status: "held", Name: "release", CallID: "c2", Pass: ptr(false), Message: "this holds; passed earlier"}}
	if got := webhookEvents(t, r, n); !reflect.DeepEqual(got, want) {
		t.Fatalf("the hold's data: %+v, want %+v", got, want)
	}

	n = len(r.Events)
	res = []WebhookResult{{Name: "qa", CallID: "c3", Pass: true}, {Name: "release", CallID: "c4", Pass: true, Message: "approved; it failed before"}}
	r, _ = must(t, r, at.Add(20*time.Second), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 700, Confirm: res})
	want = []hookData{
		{Webhook: "qa", Type: "confirm_promotion", Status: "passed", Name: "qa", CallID: "c3", Pass: ptr(true)},
		{Webhook: "release", Type: "confirm_promotion", Status: "passed", Name: "release", CallID: "c4", Pass: ptr(true), Message: "approved; it failed before"},
	}
	if got := webhookEvents(t, r, n); r.Phase != sluice.PhasePromoted || !reflect.DeepEqual(got, want) {
		t.Fatalf("phase %s, the passes' data: %+v, want %+v", r.Phase, got, want)
	}
}

// TestWebhookEventData_StageFail: a stage webhook's fail says failed in
// its data, whatever its answer's words.
func TestWebhookEventData_StageFail(t *testing.T) {
	hook := sluice.RolloutWebhook{Name: "eval-gate", URL: "http://127.0.0.1:9/s", Type: sluice.WebhookStage}
	r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{hook},
		Stages: []sluice.RolloutStage{{Percent: 10, MinSamples: 10}, {Percent: 50, MinSamples: 10}, {Percent: 100}}})
	r, _ = must(t, r, t0.Add(time.Second), Event{Kind: EvWarmed})
	pass := verdict(sluice.OutcomePass, 500, 500)
	n := len(r.Events)
	r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500})
	r, _ = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500,
		Confirm: []WebhookResult{{Name: "eval-gate", CallID: "c1", Message: "the error budget holds no headroom"}}})
	want := []hookData{
		{Webhook: "eval-gate", Webhooks: []string{"eval-gate"}, Type: "stage", Status: "waiting"},
		{Webhook: "eval-gate", Type: "stage", Status: "failed", Name: "eval-gate", CallID: "c1", Pass: ptr(false), Message: "the error budget holds no headroom"},
	}
	if got := webhookEvents(t, r, n); r.Phase != sluice.PhaseRolledBack || !reflect.DeepEqual(got, want) {
		t.Fatalf("phase %s, data %+v, want %+v", r.Phase, got, want)
	}
}

// TestWebhookEventData_PreRollout: a pre_rollout webhook's call and
// answer, recorded through EvWebhook, and its fail, recorded with the
// failed warm-up: each a webhook event saying so in its data.
func TestWebhookEventData_PreRollout(t *testing.T) {
	hook := sluice.RolloutWebhook{Name: "golden-set", URL: "http://127.0.0.1:9/g", Type: sluice.WebhookPreRollout}
	r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Webhooks: []sluice.RolloutWebhook{hook}})
	n := len(r.Events)
	r, _ = must(t, r, t0.Add(time.Second), Event{Kind: EvWebhook, Message: "calling webhook golden-set (pre_rollout, call c1)", Hook: hookEvent(hook.Name, hook.Type, WebhookCalling, &WebhookResult{Name: hook.Name, CallID: "c1"})})
	r, _ = must(t, r, t0.Add(2*time.Second), Event{Kind: EvWebhook, Message: "webhook golden-set (pre_rollout) passed: 3/3", Hook: hookEvent(hook.Name, hook.Type, WebhookPassed, &WebhookResult{Name: hook.Name, CallID: "c1", Pass: true, Message: "3/3"})})
	failed, _ := must(t, r, t0.Add(3*time.Second), Event{Kind: EvWarmupFailed, Message: "pre_rollout webhook golden-set failed: 1/3",
		Hook: hookEvent(hook.Name, hook.Type, WebhookFailed, &WebhookResult{Name: hook.Name, CallID: "c2", Message: "1/3"})})
	want := []hookData{
		{Webhook: "golden-set", Type: "pre_rollout", Status: "calling", CallID: "c1"},
		{Webhook: "golden-set", Type: "pre_rollout", Status: "passed", Name: "golden-set", CallID: "c1", Pass: ptr(true), Message: "3/3"},
		{Webhook: "golden-set", Type: "pre_rollout", Status: "failed", Name: "golden-set", CallID: "c2", Pass: ptr(false), Message: "1/3"},
	}
	if got := webhookEvents(t, failed, n); failed.Phase != sluice.PhaseFailed || !reflect.DeepEqual(got, want) {
		t.Fatalf("phase %s, data %+v, want %+v", failed.Phase, got, want)
	}
	if last := failed.Events[len(failed.Events)-1]; last.Kind != "failed" {
		t.Errorf("the last event is %s %q: the failure comes after the webhook's answer", last.Kind, last.Message)
	}
}
