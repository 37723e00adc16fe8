package rollout_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/rollout"
)

// scriptedCaller answers each webhook call at once with what pass says
// (read at the call), counting the calls.
type scriptedCaller struct {
	mu    sync.Mutex
	pass  bool
	msg   string
	calls int
}

func (s *scriptedCaller) Call(_ context.Context, h sluice.RolloutWebhook, body rollout.WebhookBody) rollout.WebhookResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return rollout.WebhookResult{Name: h.Name, CallID: body.CallID, Pass: s.pass, Message: s.msg}
}

func (s *scriptedCaller) set(pass bool, msg string) {
	s.mu.Lock()
	s.pass, s.msg = pass, msg
	s.mu.Unlock()
}

func (s *scriptedCaller) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// heldSpec is a progressive rollout whose only stage before 100% holds a
// minute and needs 10 requests, its promotion asked of webhook release,
// analysed every 10 s.
func heldSpec(typ string) sluice.RolloutSpec {
	stages := []sluice.RolloutStage{{Percent: 50, Hold: sluice.Duration(time.Minute), MinSamples: 10}, {Percent: 100}}
	if typ == sluice.WebhookStage {
		stages = []sluice.RolloutStage{{Percent: 20, Hold: sluice.Duration(time.Minute), MinSamples: 10}, {Percent: 50, Hold: sluice.Duration(time.Minute), MinSamples: 10}, {Percent: 100}}
	}
	return sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: stages,
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(10 * time.Second)},
		Webhooks: []sluice.RolloutWebhook{{Name: "release", URL: "http://127.0.0.1:9/release", Type: typ}}}
}

// heldEnv starts heldSpec(typ) live on a fake clock, with both versions'
// traffic in and the stage's hold done: the next analysis passes and asks
// the webhook.
func heldEnv(t *testing.T, typ string) (*rvEnv, *scriptedCaller) {
	t.Helper()
	caller := &scriptedCaller{}
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) { o.Webhooks = caller })
	e.startLive(t, heldSpec(typ))
	e.clock.Add(30 * time.Second)
	e.win.record("v1", e.clock.Now(), 3000)
	e.win.record("v2", e.clock.Now(), 3000)
	e.clock.Add(time.Minute)
	return e, caller
}

func (e *rvEnv) rollout() sluice.Rollout { return *e.ctl.Registry().Rollouts["chat"] }

// analyses counts the analyses recorded on the rollout's audit trail.
func (e *rvEnv) analyses(t *testing.T) int {
	t.Helper()
	entries, err := e.ctl.Store().Audit(e.ctx, sluice.AuditQuery{Model: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range entries {
		// One rollout.* entry per analysis (a decision's change
		// has others, its policy's, with the same reason).
		if strings.HasPrefix(a.Reason, "analysis of ") && strings.HasPrefix(a.Action, "rollout.") {
			n++
		}
	}
	return n
}

// TestConfirmPromotion_AnswerTakenAtOnce: a confirm_promotion webhook's
// passing answer is acted on when it arrives: the analysis that takes it
// runs at once, not at the rollout's next interval (10 s by default, one
// more interval of holding for every approval). On the fake clock, the
// Step right after the answer, at the same instant, promotes.
func TestConfirmPromotion_AnswerTakenAtOnce(t *testing.T) {
	e, caller := heldEnv(t, sluice.WebhookConfirmPromotion)
	caller.set(true, "approved by bob")
	e.c.Step(e.ctx) // the analysis passes: the promotion waits for release, asked
	if r := e.rollout(); r.Phase != sluice.PhaseProgressing || r.WebhookWait == nil {
		t.Fatalf("phase %s wait %+v: want held for the webhook", r.Phase, r.WebhookWait)
	}
	e.c.Wait() // its answer is in
	before := e.analyses(t)
	e.c.Step(e.ctx) // same instant: no interval has passed
	r := e.rollout()
	if r.Phase != sluice.PhasePromoted || !strings.Contains(r.Decision, "confirmed by webhook release") {
		t.Fatalf("phase %s (%s): the answer waits for the next analysis interval", r.Phase, r.Decision)
	}
	if n := e.analyses(t) - before; n != 1 {
		t.Errorf("%d analyses to take the answer, want 1", n)
	}
	if caller.count() != 1 {
		t.Errorf("%d calls, want 1", caller.count())
	}
}

// TestConfirmPromotion_RunWakesOnAnswer: Run, between ticks, is woken by
// a webhook's answer that moves a rollout: with a tick of an hour, the
// promotion still follows the approval.
func TestConfirmPromotion_RunWakesOnAnswer(t *testing.T) {
	for _, typ := range []string{sluice.WebhookConfirmPromotion, sluice.WebhookStage} {
		t.Run(typ, func(t *testing.T) {
			caller := &scriptedCaller{pass: true}
			e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
				o.Webhooks = caller
				o.Tick = time.Hour
			})
			e.startLive(t, heldSpec(typ))
			e.clock.Add(30 * time.Second)
			e.win.record("v1", e.clock.Now(), 3000)
			e.win.record("v2", e.clock.Now(), 3000)
			e.clock.Add(time.Minute)
			ctx, stop := context.WithCancel(e.ctx)
			done := make(chan struct{})
			go func() { e.c.Run(ctx); close(done) }()
			defer func() { stop(); <-done }()
			waitFor(t, "the step the webhook's pass takes", func() bool {
				r := e.ctl.Registry().Rollouts["chat"]
				return r.Phase == sluice.PhasePromoted || r.StageIndex == 1
			})
		})
	}
}

// TestConfirmPromotion_HoldNotAskedAgainAtOnce: a hold is taken at the
// next interval, as before: a webhook that says "not yet" is asked once
// an analysis interval, not again as soon as it answers.
func TestConfirmPromotion_HoldNotAskedAgainAtOnce(t *testing.T) {
	e, caller := heldEnv(t, sluice.WebhookConfirmPromotion)
	caller.set(false, "change freeze")
	e.c.Step(e.ctx)
	e.c.Wait()
	e.c.Step(e.ctx) // same instant
	e.c.Wait()
	if n := caller.count(); n != 1 {
		t.Fatalf("%d calls within one interval, want 1", n)
	}
	e.clock.Add(10 * time.Second)
	e.c.Step(e.ctx)
	e.c.Wait()
	r := e.rollout()
	if caller.count() != 2 || r.WebhookWait == nil || r.WebhookWait.Message != "change freeze" || r.Phase != sluice.PhaseProgressing {
		t.Fatalf("%d calls, wait %+v, phase %s", caller.count(), r.WebhookWait, r.Phase)
	}
}

// TestConfirmPromotion_ApprovalBeforePauseNotApplied: an approval that
// arrived before a pause is not applied after the resume, even when the
// pause and the resume both came between two of the controller's ticks
// (it never saw the rollout paused): the analysis after the resume asks
// again, and only that answer promotes.
func TestConfirmPromotion_ApprovalBeforePauseNotApplied(t *testing.T) {
	for _, typ := range []string{sluice.WebhookConfirmPromotion, sluice.WebhookStage} {
		t.Run(typ, func(t *testing.T) {
			e, caller := heldEnv(t, typ)
			caller.set(true, "approved")
			e.c.Step(e.ctx) // held, asked
			e.c.Wait()      // the approval is in, not yet taken
			e.act(t, rollout.EvPause, "the on-call wants a look")
			e.act(t, rollout.EvResume, "")
			e.clock.Add(10 * time.Second) // the analysis is due, whatever woke it
			e.c.Step(e.ctx)
			r := e.rollout()
			if r.Phase != sluice.PhaseProgressing || r.StageIndex != 0 {
				t.Fatalf("phase %s stage %d (%s): the approval from before the pause was applied after the resume", r.Phase, r.StageIndex, r.Decision)
			}
			if r.WebhookWait == nil || r.WebhookWait.Webhook != "release" {
				t.Fatalf("wait %+v: want the step asked again", r.WebhookWait)
			}
			e.c.Wait()
			if n := caller.count(); n != 2 {
				t.Fatalf("%d calls, want 2 (the resume asks again)", n)
			}
			e.c.Step(e.ctx) // the new answer, taken at once
			r = e.rollout()
			if r.Phase != sluice.PhasePromoted && r.StageIndex != 1 {
				t.Fatalf("phase %s stage %d: the approval asked after the resume was not applied", r.Phase, r.StageIndex)
			}
		})
	}
}

// TestConfirmPromotion_NextNamesFailingAnalysis: while the promotion waits
// for its webhook and an analysis then stops passing, what it waits for is
// a passing analysis, not the webhook: Next said "the promotion waits for
// webhook release" for as long as the analysis failed. The passing
// analysis after asks the webhook again.
func TestConfirmPromotion_NextNamesFailingAnalysis(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	spec := heldSpec(sluice.WebhookConfirmPromotion)
	spec.Model, spec.Baseline, spec.Candidate = "chat", "v1", "v2"
	prev := &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, Labels: map[string]string{"stable": "v1"}}
	r, _, err := rollout.Start("chat-1", spec, prev, "alice", "ship v2", t0)
	if err != nil {
		t.Fatal(err)
	}
	step := func(at time.Duration, ev rollout.Event) []rollout.Action {
		t.Helper()
		var acts []rollout.Action
		r, acts, err = rollout.Next(r, ev, t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return acts
	}
	next := func(at time.Duration) string {
		return api.WaitingFor(api.RolloutStatus{Rollout: r, StageSamples: 500, StageNeed: 10}, t0.Add(at))
	}
	pass := &sluice.Verdict{Outcome: sluice.OutcomePass, Reason: "all metrics within thresholds", BaselineN: 500, CandidateN: 500}
	step(time.Second, rollout.Event{Kind: rollout.EvWarmed})
	step(2*time.Minute, rollout.Event{Kind: rollout.EvAnalysis, Verdict: pass, StageSamples: 500})
	step(2*time.Minute+10*time.Second, rollout.Event{Kind: rollout.EvAnalysis, Verdict: pass, StageSamples: 500,
		Confirm: []rollout.WebhookResult{{Name: "release", Message: "change freeze"}}})
	if got := next(2*time.Minute + 15*time.Second); !strings.Contains(got, "the promotion waits for webhook release") {
		t.Fatalf("held: Next = %q", got)
	}
	for _, o := range []sluice.Outcome{sluice.OutcomeFail, sluice.OutcomeInconclusive} {
		v := &sluice.Verdict{Outcome: o, Reason: "latency_p95 regressed", BaselineN: 500, CandidateN: 500}
		step(2*time.Minute+20*time.Second, rollout.Event{Kind: rollout.EvAnalysis, Verdict: v, StageSamples: 500,
			Confirm: []rollout.WebhookResult{{Name: "release", Message: "change freeze"}}})
		if r.Phase != sluice.PhaseProgressing {
			t.Fatalf("%s: phase %s", o, r.Phase)
		}
		got := next(2*time.Minute + 25*time.Second)
		if strings.Contains(got, "webhook") || !strings.Contains(got, "when the analysis passes") {
			t.Errorf("%s analysis: Next = %q, want the analysis it waits for", o, got)
		}
		// Passing again: the promotion waits for the webhook again, asked anew.
		acts := step(2*time.Minute+30*time.Second, rollout.Event{Kind: rollout.EvAnalysis, Verdict: pass, StageSamples: 500})
		if got := next(2*time.Minute + 35*time.Second); !strings.Contains(got, "the promotion waits for webhook release") || len(acts) != 1 || acts[0].Kind != rollout.ActConfirm {
			t.Errorf("passing again: Next = %q, actions %v", got, acts)
		}
	}
}
