package rollout

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func confirmHook(name string) sluice.RolloutWebhook {
	return sluice.RolloutWebhook{Name: name, URL: "http://127.0.0.1:9/" + name, Type: sluice.WebhookConfirmPromotion}
}

// lastStage returns a progressive rollout at its last stage before 100%,
// held and sampled: the next passing analysis promotes it.
func lastStage(t *testing.T, hooks ...sluice.RolloutWebhook) (sluice.Rollout, time.Time) {
	t.Helper()
	r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: hooks,
		Stages: []sluice.RolloutStage{{Percent: 50, Hold: sluice.Duration(time.Minute), MinSamples: 10}, {Percent: 100}}})
	r, _ = must(t, r, t0.Add(time.Second), Event{Kind: EvWarmed})
	return r, t0.Add(2 * time.Minute)
}

func TestConfirmPromotion_HoldsUntilEveryWebhookPasses(t *testing.T) {
	r, at := lastStage(t, confirmHook("qa"), confirmHook("release"))
	pass := verdict(sluice.OutcomePass, 500, 500)

	// The first passing analysis at the promotion point asks, and holds.
	r, acts := must(t, r, at, Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500})
	if r.Phase != sluice.PhaseProgressing || r.Percent != 50 || !hasAction(acts, ActConfirm) || hasAction(acts, ActPromote) {
		t.Fatalf("phase %s percent %v actions %v: want held at 50%% and the webhooks asked", r.Phase, r.Percent, acts)
	}
	if r.WebhookWait == nil || r.WebhookWait.Webhook != "qa" || r.WebhookWait.Asked != 0 {
		t.Fatalf("wait %+v", r.WebhookWait)
	}
	n := len(r.Events)

	// qa passes, release says not yet: still held, release named.
	res := []WebhookResult{{Name: "qa", Pass: true}, {Name: "release", Message: "change freeze until Monday"}}
	r, acts = must(t, r, at.Add(10*time.Second), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 600, Confirm: res})
	if r.Phase != sluice.PhaseProgressing || !hasAction(acts, ActConfirm) || r.WebhookWait.Webhook != "release" || r.WebhookWait.Message != "change freeze until Monday" || r.WebhookWait.Asked != 1 {
		t.Fatalf("phase %s actions %v wait %+v", r.Phase, acts, r.WebhookWait)
	}
	if len(r.Events) != n+1 || !strings.Contains(r.Events[n].Message, "webhook release (confirm_promotion) holds the promotion: change freeze until Monday") {
		t.Fatalf("timeline: %+v", r.Events[n:])
	}
	// The same answer again: counted, not repeated on the timeline.
	r, _ = must(t, r, at.Add(20*time.Second), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 700, Confirm: res})
	if len(r.Events) != n+1 || r.WebhookWait.Asked != 2 {
		t.Fatalf("events %d (want %d), wait %+v", len(r.Events), n+1, r.WebhookWait)
	}
	// An analysis with no answer yet (the call still runs) holds too.
	r, acts = must(t, r, at.Add(30*time.Second), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 800})
	if r.Phase != sluice.PhaseProgressing || !hasAction(acts, ActConfirm) {
		t.Fatalf("phase %s actions %v", r.Phase, acts)
	}
	// Both pass: promoted, the webhooks named.
	res = []WebhookResult{{Name: "qa", Pass: true}, {Name: "release", Pass: true, Message: "approved by bob"}}
	r, acts = must(t, r, at.Add(40*time.Second), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 900, Confirm: res})
	if r.Phase != sluice.PhasePromoted || !hasAction(acts, ActPromote) || r.WebhookWait != nil {
		t.Fatalf("phase %s actions %v wait %+v", r.Phase, acts, r.WebhookWait)
	}
	if !strings.Contains(r.Decision, "confirmed by webhook qa, release") {
		t.Errorf("decision: %s", r.Decision)
	}
}

func TestConfirmPromotion_FailNeverRollsBack(t *testing.T) {
	r, at := lastStage(t, confirmHook("qa"))
	pass := verdict(sluice.OutcomePass, 500, 500)
	for i := range 10 {
		var acts []Action
		r, acts = must(t, r, at.Add(time.Duration(i)*10*time.Second), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500,
			Confirm: []WebhookResult{{Name: "qa", Message: "answered 500"}}})
		if r.Phase != sluice.PhaseProgressing || hasAction(acts, ActRestore) {
			t.Fatalf("analysis %d: phase %s actions %v", i, r.Phase, acts)
		}
	}
	// The analysis failing still rolls back, as without webhooks.
	fail := verdict(sluice.OutcomeFail, 500, 500)
	r, _ = must(t, r, at.Add(time.Hour), Event{Kind: EvAnalysis, Verdict: fail, StageSamples: 500})
	r, _ = must(t, r, at.Add(time.Hour+10*time.Second), Event{Kind: EvAnalysis, Verdict: fail, StageSamples: 500})
	if r.Phase != sluice.PhaseRolledBack || r.WebhookWait != nil {
		t.Fatalf("phase %s wait %+v", r.Phase, r.WebhookWait)
	}
}

func TestConfirmPromotion_OperatorPromoteBypasses(t *testing.T) {
	r, at := lastStage(t, confirmHook("qa"))
	r, _ = must(t, r, at, Event{Kind: EvAnalysis, Verdict: verdict(sluice.OutcomePass, 500, 500), StageSamples: 500})
	r, acts := must(t, r, at.Add(time.Second), Event{Kind: EvPromote, Actor: "alice", Message: "approved in the release meeting"})
	if r.Phase != sluice.PhasePromoted || !hasAction(acts, ActPromote) || r.WebhookWait != nil {
		t.Fatalf("phase %s actions %v", r.Phase, acts)
	}
	if !strings.Contains(r.Decision, "not asked of an operator's promote") {
		t.Errorf("decision: %s", r.Decision)
	}
}

func TestConfirmPromotion_CanaryAndPreview(t *testing.T) {
	for _, st := range []sluice.Strategy{sluice.StrategyCanary, sluice.StrategyBlueGreen} {
		t.Run(string(st), func(t *testing.T) {
			r := mustStart(t, sluice.RolloutSpec{Strategy: st, AutoPromote: true, Webhooks: []sluice.RolloutWebhook{confirmHook("qa")}})
			r, _ = must(t, r, t0.Add(time.Second), Event{Kind: EvWarmed})
			pass := verdict(sluice.OutcomePass, 500, 500)
			r, acts := must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500})
			if r.Phase == sluice.PhasePromoted || !hasAction(acts, ActConfirm) {
				t.Fatalf("phase %s actions %v", r.Phase, acts)
			}
			r, _ = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500, Confirm: []WebhookResult{{Name: "qa", Pass: true}}})
			if r.Phase != sluice.PhasePromoted {
				t.Fatalf("phase %s", r.Phase)
			}
		})
	}
}

func TestValidate_Webhooks(t *testing.T) {
	ok := sluice.RolloutWebhook{Name: "evals", URL: "https://evals.internal/run", Type: sluice.WebhookPreRollout}
	cases := []struct {
		name  string
		spec  sluice.RolloutSpec
		field string
		msg   string
	}{
		{"BadURL", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{ok, {Name: "b", URL: "evals.internal", Type: sluice.WebhookPreRollout}}}, "webhooks[1].url", "rollout.webhooks[1].url: "},
		{"NoType", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{{Name: "b", URL: ok.URL}}}, "webhooks[0].type", "give pre_rollout, confirm_promotion, stage"},
		{"UnknownType", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{{Name: "b", URL: ok.URL, Type: "post_rollout"}}}, "webhooks[0].type", `unknown type "post_rollout"`},
		{"Twice", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{ok, ok}}, "webhooks[1].name", "declared twice"},
		{"NoName", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{{URL: ok.URL, Type: sluice.WebhookPreRollout}}}, "webhooks[0].name", "rollout.webhooks[0].name"},
		{"LongTimeout", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{{Name: "b", URL: ok.URL, Type: sluice.WebhookPreRollout, Timeout: sluice.Duration(time.Hour)}}}, "webhooks[0].timeout", "at most 30m0s"},
		{"BadHeader", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{{Name: "b", URL: ok.URL, Type: sluice.WebhookPreRollout, Headers: map[string]string{"X Token": "a"}}}}, "webhooks[0].headers", "not a header name"},
		{"ConfirmManualCanary", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Webhooks: []sluice.RolloutWebhook{confirmHook("qa")}}, "webhooks[0].type", "add auto_promote"},
		{"ConfirmABTest", sluice.RolloutSpec{Strategy: sluice.StrategyABTest, Webhooks: []sluice.RolloutWebhook{confirmHook("qa")}}, "webhooks[0].type", "would never be asked"},
		{"StageCanary", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, Webhooks: []sluice.RolloutWebhook{{Name: "s", URL: ok.URL, Type: sluice.WebhookStage}}}, "webhooks[0].type", "has no stages to advance through"},
		{"ConfirmRolling", sluice.RolloutSpec{Strategy: sluice.StrategyRolling, Webhooks: []sluice.RolloutWebhook{confirmHook("qa")}}, "webhooks[0].type", "use a pre_rollout webhook"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Model, c.spec.Baseline, c.spec.Candidate = "chat", "v1", "v2"
			err := Validate(WithDefaults(c.spec))
			var se *sluice.Error
			if err == nil || !errorsAs(err, &se) || len(se.Fields) != 1 || se.Fields[0] != c.field || !strings.Contains(se.Message, c.msg) {
				t.Fatalf("err = %v (%#v), want field %s and %q", err, se, c.field, c.msg)
			}
		})
	}
	good := sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyPipeline, Webhooks: []sluice.RolloutWebhook{ok, confirmHook("qa")}}
	if err := Validate(WithDefaults(good)); err != nil {
		t.Fatal(err)
	}
}

func errorsAs(err error, se **sluice.Error) bool {
	e, ok := err.(*sluice.Error)
	*se = e
	return ok
}

func TestHTTPWebhooks_Call(t *testing.T) {
	var got WebhookBody
	var auth string
	answer := func(w http.ResponseWriter, status int, body string) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
	var status int
	var reply string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&got)
		auth = r.Header.Get("Authorization")
		if reply == "sleep" {
			<-r.Context().Done()
			return
		}
		answer(w, status, reply)
	}))
	defer srv.Close()
	h := sluice.RolloutWebhook{Name: "evals", URL: srv.URL + "/run", Type: sluice.WebhookPreRollout, Headers: map[string]string{"Authorization": "Bearer s3"}}
	r := &sluice.Rollout{ID: "chat-3", Spec: sluice.RolloutSpec{Model: "chat", Baseline: "v1", Candidate: "v2", Strategy: sluice.StrategyCanary}, Phase: sluice.PhaseWarming}
	call := func() WebhookResult {
		return (&HTTPWebhooks{}).Call(context.Background(), h, webhookBody(r, h))
	}
	cases := []struct {
		status  int
		reply   string
		pass    bool
		message string
	}{
		{200, "", true, ""},
		{200, `{"pass": true, "message": "golden set 98%"}`, true, "golden set 98%"},
		{200, `{"pass": false, "message": "golden set 71%, below 90%"}`, false, "golden set 71%, below 90%"},
		{200, `{"pass": false}`, false, `answered "pass": false`},
		{200, `ok`, true, "ok"},
		{500, `{"message": "suite crashed"}`, false, "answered 500: suite crashed"},
		{503, strings.Repeat("x", 1000), false, "answered 503: " + strings.Repeat("x", WebhookMessageMax) + "…"},
	}
	for _, c := range cases {
		status, reply = c.status, c.reply
		res := call()
		if res.Pass != c.pass || res.Message != c.message {
			t.Errorf("%d %q: pass %v message %q, want %v %q", c.status, c.reply, res.Pass, res.Message, c.pass, c.message)
		}
	}
	if got.CandidatePin != "chat:v2" || got.Rollout != "chat-3" || got.Type != "pre_rollout" || got.CallID == "" || auth != "Bearer s3" {
		t.Errorf("body %+v auth %q", got, auth)
	}
	reply = "sleep"
	h.Timeout = sluice.Duration(50 * time.Millisecond)
	if res := call(); res.Pass || !strings.Contains(res.Message, "no answer within its timeout of 50ms") {
		t.Errorf("timeout: %+v", res)
	}
}

func TestStageWebhook(t *testing.T) {
	hook := sluice.RolloutWebhook{Name: "kv-cache", URL: "http://127.0.0.1:9/s", Type: sluice.WebhookStage}
	start := func(t *testing.T) sluice.Rollout {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Webhooks: []sluice.RolloutWebhook{hook},
			Stages: []sluice.RolloutStage{{Percent: 10, MinSamples: 10}, {Percent: 50, MinSamples: 10}, {Percent: 100}}})
		r, _ = must(t, r, t0.Add(time.Second), Event{Kind: EvWarmed})
		return r
	}
	pass := verdict(sluice.OutcomePass, 500, 500)
	t.Run("PassAdvances", func(t *testing.T) {
		r := start(t)
		r, acts := must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500})
		if r.StageIndex != 0 || r.Percent != 10 || !hasAction(acts, ActConfirm) || r.WebhookWait == nil || r.WebhookWait.Type != "stage" {
			t.Fatalf("stage %d percent %v actions %v wait %+v: want held at stage 1, asking", r.StageIndex, r.Percent, acts, r.WebhookWait)
		}
		r, acts = must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500, Confirm: []WebhookResult{{Name: "kv-cache", Pass: true}}})
		if r.StageIndex != 1 || weightOf(acts) != 50 || r.WebhookWait != nil {
			t.Fatalf("stage %d actions %v wait %+v: want stage 2 at 50%%", r.StageIndex, acts, r.WebhookWait)
		}
		// The promotion is not a stage's step: no stage webhook asked.
		r, acts = must(t, r, t0.Add(3*time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500})
		if r.Phase != sluice.PhasePromoted || !hasAction(acts, ActPromote) {
			t.Fatalf("phase %s actions %v", r.Phase, acts)
		}
	})
	t.Run("FailRollsBack", func(t *testing.T) {
		r := start(t)
		r, _ = must(t, r, t0.Add(time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500})
		r, acts := must(t, r, t0.Add(2*time.Minute), Event{Kind: EvAnalysis, Verdict: pass, StageSamples: 500, Confirm: []WebhookResult{{Name: "kv-cache", Message: "KV cache at 97%"}}})
		if r.Phase != sluice.PhaseRolledBack || !hasAction(acts, ActRestore) || !strings.Contains(r.Decision, "stage webhook kv-cache failed before stage 2 (50%): KV cache at 97%") {
			t.Fatalf("phase %s actions %v: %s", r.Phase, acts, r.Decision)
		}
	})
}
