package rollout_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/sqlite"
)

type switchLead struct{ on atomic.Bool }

func (l *switchLead) Leading() bool { return l.on.Load() }

// heldCaller records each call and holds it until answer gets a result or
// the call's context ends.
type heldCaller struct {
	mu     sync.Mutex
	calls  []rollout.WebhookBody
	ended  []error
	answer chan rollout.WebhookResult
}

func (h *heldCaller) Call(ctx context.Context, hook sluice.RolloutWebhook, body rollout.WebhookBody) rollout.WebhookResult {
	h.mu.Lock()
	h.calls = append(h.calls, body)
	h.mu.Unlock()
	select {
	case res := <-h.answer:
		res.Name, res.CallID = hook.Name, body.CallID
		return res
	case <-ctx.Done():
		h.mu.Lock()
		h.ended = append(h.ended, ctx.Err())
		h.mu.Unlock()
		return rollout.WebhookResult{Name: hook.Name, CallID: body.CallID, Message: "cancelled"}
	}
}

func (h *heldCaller) count() (calls, ended int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls), len(h.ended)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPreRolloutWebhook_LeaderChangeCallsAgain: a pre_rollout webhook's
// call in flight when its leader loses the lock is cancelled, and the new
// leader calls it again (another call id): at least once, never a result
// from a process that no longer leads. The candidate goes live only after
// the new leader's call passes.
func TestPreRolloutWebhook_LeaderChangeCallsAgain(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	caller := &heldCaller{answer: make(chan rollout.WebhookResult)}
	var ctls []*control.Service
	var cs []*rollout.Controller
	var leads []*switchLead
	for i := range 2 {
		ctl := webhookStore(t, path, i == 0)
		lead := &switchLead{}
		lead.on.Store(i == 0)
		ctls, leads = append(ctls, ctl), append(leads, lead)
		cs = append(cs, rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: &rvCountingWarmer{gate: closed()}, Leader: lead, Webhooks: caller}))
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary,
		Webhooks: []sluice.RolloutWebhook{{Name: "evals", URL: "http://127.0.0.1:9/run", Type: sluice.WebhookPreRollout}}}
	if _, err := cs[0].Start(ctx, "alice", "ship v2", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first leader's call", func() bool { n, _ := caller.count(); return n == 1 })
	// While it runs, the candidate's pin is served, and nothing else moved.
	reg := ctls[0].Registry()
	if !reg.Addressable("chat", "v2") || reg.Models["chat"].Policy.String() != "specific v1" {
		t.Fatalf("during the call: addressable %v, policy %s", reg.Addressable("chat", "v2"), reg.Models["chat"].Policy)
	}

	// The lock moves to the second replica.
	handOver(ctx, t, leads, cs, ctls, caller)
	caller.mu.Lock()
	defer caller.mu.Unlock()
	if caller.calls[0].CallID == caller.calls[1].CallID {
		t.Errorf("both calls had id %s", caller.calls[0].CallID)
	}
	r := ctls[1].Registry().Rollouts["chat"]
	var calling, passed int
	for _, e := range r.Events {
		switch {
		case e.Kind == "webhook" && strings.HasPrefix(e.Message, "calling webhook evals"):
			calling++
		case e.Kind == "webhook" && e.Message == "webhook evals (pre_rollout) passed: 12/12":
			passed++
		}
	}
	if calling != 2 || passed != 1 || r.Percent != 10 {
		t.Errorf("timeline: %d calls, %d passes, percent %v: %+v", calling, passed, r.Percent, r.Events)
	}
	if ctls[1].Registry().Addressable("chat", "v2") != true {
		t.Error("the live candidate is not pinnable") // it is in the split now
	}
}

// webhookStore opens a control service on the SQLite file at path; with
// setup, it first registers chat: v1 in production, served, and v2 in
// staging, not served.
func webhookStore(t *testing.T, path string, setup bool) *control.Service {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl, err := control.New(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup {
		doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Labels: map[string]string{"stable": "v1"},
			Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"},
			Versions: []sluice.Version{
				{Version: "v1", Endpoints: []string{"http://127.0.0.1:1"}, Stage: sluice.StageProduction},
				{Version: "v2", Endpoints: []string{"http://127.0.0.1:2"}, Stage: sluice.StageStaging},
			}}}}
		if _, err := ctl.Do(ctx, "setup", "setup", func(e *sluice.Edit) error { return e.Apply(doc) }); err != nil {
			t.Fatal(err)
		}
	}
	return ctl
}

func closed() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// TestPreRolloutWebhook_ShutdownDoesNotWait: a webhook may take up to 30
// minutes; the controller's Run, stopping, cancels its call (the next
// leader calls again) rather than wait for it, and records no answer.
func TestPreRolloutWebhook_ShutdownDoesNotWait(t *testing.T) {
	ctx := context.Background()
	ctl := webhookStore(t, filepath.Join(t.TempDir(), "s.db"), true)
	caller := &heldCaller{answer: make(chan rollout.WebhookResult)}
	c := rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: &rvCountingWarmer{gate: closed()}, Webhooks: caller, Tick: 10 * time.Millisecond})
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() { c.Run(runCtx); close(ran) }()
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary,
		Webhooks: []sluice.RolloutWebhook{{Name: "evals", URL: "http://127.0.0.1:9/run", Type: sluice.WebhookPreRollout, Timeout: sluice.Duration(30 * time.Minute)}}}
	if _, err := c.Start(ctx, "alice", "ship v2", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call", func() bool { n, _ := caller.count(); return n == 1 })
	stop()
	waitFor(t, "Run to return", func() bool {
		select {
		case <-ran:
			return true
		default:
			return false
		}
	})
	r := ctl.Registry().Rollouts["chat"]
	if r.Phase != sluice.PhaseWarming {
		t.Errorf("phase %s (%s): a cancelled call recorded an answer", r.Phase, r.Decision)
	}
}

// confirmLead leads as Leading says (a second or two stale, as the real
// one's is), and Confirm says what the store would: whether it still holds
// the lock right now.
type confirmLead struct{ holds atomic.Bool }

func (l *confirmLead) Leading() bool                    { return true }
func (l *confirmLead) Confirm(ctx context.Context) bool { return l.holds.Load() }

// TestPreRolloutWebhook_AnswerAfterLostLeadNotApplied: a pre_rollout
// webhook answers after its caller lost the lock, before its stale Leading
// said so: the answer is not applied (neither the candidate's traffic nor
// a failure), and the new leader calls again. Only the leader decides.
func TestPreRolloutWebhook_AnswerAfterLostLeadNotApplied(t *testing.T) {
	for _, pass := range []bool{true, false} {
		ctx := context.Background()
		ctl := webhookStore(t, filepath.Join(t.TempDir(), "s.db"), true)
		caller := &heldCaller{answer: make(chan rollout.WebhookResult)}
		lead := &confirmLead{}
		lead.holds.Store(true)
		c := rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: &rvCountingWarmer{gate: closed()}, Leader: lead, Webhooks: caller})
		spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary,
			Webhooks: []sluice.RolloutWebhook{{Name: "evals", URL: "http://127.0.0.1:9/run", Type: sluice.WebhookPreRollout}}}
		if _, err := c.Start(ctx, "alice", "ship v2", spec); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the call", func() bool { n, _ := caller.count(); return n == 1 })
		lead.holds.Store(false) // another replica holds the lock now
		caller.answer <- rollout.WebhookResult{Pass: pass, Message: "12/12"}
		c.Wait()
		r := ctl.Registry().Rollouts["chat"]
		if r.Phase != sluice.PhaseWarming || r.Percent != 0 {
			t.Errorf("pass %v: phase %s at %v%% (%s): a replica that no longer leads applied the webhook's answer", pass, r.Phase, r.Percent, r.Decision)
		}
		for _, e := range r.Events {
			if e.Kind == "webhook" && strings.Contains(e.Message, "passed") {
				t.Errorf("pass %v: the timeline has a former leader's answer: %s", pass, e.Message)
			}
		}
	}
}

// TestPreRolloutWebhook_LeaderChangeDoesNotWarmAgain: a new leader that
// found a rollout warming with its pre_rollout webhook's call on the
// timeline warmed the candidate again (its readiness checks and warm-up
// requests) before calling the webhook. The call on the timeline says the
// warm-up finished, so the new leader now makes the call alone (again, at
// least once, with its own call id); a warm-up interrupted before it
// finished is still repeated (TestWarmupKeepsRunningOnReplicaThatLostLeadership).
func TestPreRolloutWebhook_LeaderChangeDoesNotWarmAgain(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	caller := &heldCaller{answer: make(chan rollout.WebhookResult)}
	warmer := &rvCountingWarmer{gate: closed()} // the candidate's one set of backends
	var ctls []*control.Service
	var cs []*rollout.Controller
	var leads []*switchLead
	for i := range 2 {
		ctl := webhookStore(t, path, i == 0)
		lead := &switchLead{}
		lead.on.Store(i == 0)
		ctls, leads = append(ctls, ctl), append(leads, lead)
		cs = append(cs, rollout.New(rollout.Options{Control: ctl, Windows: &rvWindows{}, Warmer: warmer, Leader: lead, Webhooks: caller}))
	}
	spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Strategy: sluice.StrategyCanary,
		Webhooks: []sluice.RolloutWebhook{{Name: "evals", URL: "http://127.0.0.1:9/run", Type: sluice.WebhookPreRollout}}}
	if _, err := cs[0].Start(ctx, "alice", "ship v2", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first leader's call", func() bool { n, _ := caller.count(); return n == 1 })
	handOver(ctx, t, leads, cs, ctls, caller)
	if n := warmer.n.Load(); n != 1 {
		t.Errorf("the candidate was warmed %d times, want once: the new leader warmed it again", n)
	}
	caller.mu.Lock()
	ids := []string{caller.calls[0].CallID, caller.calls[1].CallID}
	caller.mu.Unlock()
	// Each call on the timeline, with its own id in its data.
	var calling []string
	for _, e := range ctls[1].Registry().Rollouts["chat"].Events {
		var d rollout.WebhookEvent
		if e.Kind != "webhook" || json.Unmarshal(e.Data, &d) != nil || d.Status != rollout.WebhookCalling {
			continue
		}
		if d.Webhook != "evals" || d.Type != sluice.WebhookPreRollout {
			t.Errorf("call's data: %+v", d)
		}
		calling = append(calling, d.CallID)
	}
	if len(calling) != 2 || calling[0] != ids[0] || calling[1] != ids[1] || ids[0] == ids[1] {
		t.Errorf("the timeline's calls %v, the calls made %v", calling, ids)
	}
}

// handOver moves the lock from the first of two replicas to the second
// while the first's pre_rollout call is held: the old leader's call ends,
// the new one calls again, its call passes, and the candidate goes live
// on it; then both controllers' background work is waited for.
func handOver(ctx context.Context, t *testing.T, leads []*switchLead, cs []*rollout.Controller, ctls []*control.Service, caller *heldCaller) {
	t.Helper()
	leads[0].on.Store(false)
	leads[1].on.Store(true)
	cs[0].Step(ctx)
	waitFor(t, "the old leader's call to end", func() bool { _, e := caller.count(); return e == 1 })
	if err := ctls[1].Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cs[1].Step(ctx)
	waitFor(t, "the new leader's call", func() bool { n, _ := caller.count(); return n == 2 })
	caller.answer <- rollout.WebhookResult{Pass: true, Message: "12/12"}
	waitFor(t, "the candidate to go live", func() bool {
		r := ctls[1].Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	for _, c := range cs {
		c.Wait()
	}
}
