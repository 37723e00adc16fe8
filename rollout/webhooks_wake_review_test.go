package rollout_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// gatedCaller passes each call once release is closed.
type gatedCaller struct{ release chan struct{} }

func (g *gatedCaller) Call(ctx context.Context, h sluice.RolloutWebhook, body rollout.WebhookBody) rollout.WebhookResult {
	select {
	case <-g.release:
	case <-ctx.Done():
	}
	return rollout.WebhookResult{Name: h.Name, CallID: body.CallID, Pass: true, Message: "approved"}
}

// failingWindows is the test's windows, with every candidate (v2)
// request failing once fail is set.
type failingWindows struct {
	rollout.Windows
	fail atomic.Bool
}

func (w *failingWindows) Window(model, version, category string, since time.Time) observe.Sample {
	s := w.Windows.Window(model, version, category, since)
	if version == "v2" && w.fail.Load() {
		s.Counts.Errors, s.Counts.Succeeded = s.Counts.Requests, 0
	}
	return s
}

func (w *failingWindows) Between(model, version, category string, since, _ time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

func (w *failingWindows) Randomized(model, version, category string, since time.Time) observe.Sample {
	return w.Window(model, version, category, since)
}

// TestConfirmAnswer_StaleAnswerAnalysesNothing: an approval that arrives
// after its wait ended (here an analysis failed while the call ran) is
// not for the rollout any more, and must not bring its next analysis
// forward: it did, so a second failing analysis ran at once, a moment
// after the first, on the same traffic, and the failure streak counted
// two analyses where the schedule has one (with fail_checks 2, a rollback
// an interval early).
func TestConfirmAnswer_StaleAnswerAnalysesNothing(t *testing.T) {
	caller := &gatedCaller{release: make(chan struct{})}
	var win *failingWindows
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
		o.Webhooks = caller
		win = &failingWindows{Windows: o.Windows}
		o.Windows = win
	})
	spec := heldSpec(sluice.WebhookConfirmPromotion)
	spec.Analysis.FailChecks = 3
	e.startLive(t, spec)
	e.clock.Add(30 * time.Second)
	e.win.record("v1", e.clock.Now(), 3000)
	e.win.record("v2", e.clock.Now(), 3000)
	e.clock.Add(time.Minute)
	e.c.Step(e.ctx) // passes: the promotion waits for release, asked (the call runs)
	if r := e.rollout(); r.WebhookWait == nil {
		t.Fatalf("phase %s: want the promotion held for the webhook", r.Phase)
	}
	win.fail.Store(true)
	e.clock.Add(10 * time.Second)
	e.c.Step(e.ctx) // fails: the wait ends
	if r := e.rollout(); r.FailStreak != 1 || r.WebhookWait != nil {
		t.Fatalf("fail streak %d, wait %+v: want one failing analysis and no wait", r.FailStreak, r.WebhookWait)
	}
	before := e.analyses(t)
	close(caller.release) // the approval of the ended wait comes in
	e.c.Wait()
	e.c.Step(e.ctx) // same instant: nothing is due
	r := e.rollout()
	if n := e.analyses(t) - before; n != 0 || r.FailStreak != 1 {
		t.Fatalf("%d analyses at the same instant, fail streak %d (%s): an answer for an ended wait brought the next analysis forward", n, r.FailStreak, r.Phase)
	}
	if r.Phase != sluice.PhaseProgressing {
		t.Fatalf("phase %s: %s", r.Phase, r.Decision)
	}
}
