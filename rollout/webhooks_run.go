package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluicehq/sluice"
)

// confirmCall is the confirm_promotion calls of one rollout at one
// promotion point (key): running while they run, then their answers,
// which the next analysis takes (takeConfirm).
type confirmCall struct {
	key     string
	cancel  context.CancelFunc
	running bool
	results []WebhookResult
	// moves is set when results take the step or end the rollout: the
	// analysis that takes them is due at once (answered), if the rollout
	// still stands at the wait they answer.
	moves bool
}

// confirmKey names the wait r is at (its phase, stage, the webhooks' type
// and when the wait began): answers given at another are not for it. A
// pause, and an analysis that stops passing, end the wait (the machine
// clears Rollout.WebhookWait), so the wait after them has another Since:
// an approval asked before a pause is never applied after the resume,
// even when both came between two of the controller's ticks.
func confirmKey(r *sluice.Rollout) string {
	phase := r.Phase
	if phase == sluice.PhasePaused {
		phase = r.PausedFrom
	}
	typ := sluice.WebhookConfirmPromotion
	var since int64
	if w := r.WebhookWait; w != nil {
		if w.Type != "" {
			typ = w.Type
		}
		since = w.Since.UnixNano()
	}
	return fmt.Sprintf("%s/%s/%d/%s/%d", r.ID, phase, r.StageIndex, typ, since)
}

// preRollout calls r's pre_rollout webhooks in turn, once the candidate is
// warm, each call and answer on the timeline (and in the audit); it
// returns EvWarmed when all passed, else EvWarmupFailed naming the first
// that did not. done is false when it was interrupted: ctx ended (the
// rollout stopped warming, or this process stopped leading), the
// controller is stopping, the store says this process no longer leads
// when an answer comes, or the timeline could not be written; nothing
// is to be recorded then, and the leader calls them again (at least once).
func (c *Controller) preRollout(ctx context.Context, r sluice.Rollout, tally *sluice.WarmupTally) (ev Event, done bool) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.quit, cancel)()
	for _, h := range r.Spec.WebhooksOf(sluice.WebhookPreRollout) {
		body := webhookBody(&r, h)
		call := hookEvent(h.Name, h.Type, WebhookCalling, &WebhookResult{Name: h.Name, CallID: body.CallID})
		if err := c.noteWebhook(ctx, r, fmt.Sprintf("calling webhook %s (pre_rollout, call %s) before the candidate takes traffic; it may call it as model %s", h.Name, body.CallID, body.CandidatePin), call, tally); err != nil {
			c.opt.Logger.Warn("pre_rollout webhook not called", "rollout", r.ID, "webhook", h.Name, "err", err)
			return Event{}, false
		}
		res := c.opt.Webhooks.Call(ctx, h, body)
		if ctx.Err() != nil {
			return Event{}, false
		}
		if !c.stillLeads(ctx) {
			// The lock moved during the call (Leading, a second or two
			// stale, did not say so yet): the answer is the new leader's
			// to get, by its own call.
			c.opt.Logger.Info("pre_rollout webhook's answer not applied: this replica no longer leads", "rollout", r.ID, "webhook", h.Name)
			return Event{}, false
		}
		if !res.Pass {
			return Event{Kind: EvWarmupFailed, Message: fmt.Sprintf("pre_rollout webhook %s failed: %s", h.Name, res.Message), Hook: hookEvent(h.Name, h.Type, WebhookFailed, &res)}, true
		}
		if err := c.noteWebhook(ctx, r, fmt.Sprintf("webhook %s (pre_rollout) passed%s", h.Name, reasonSuffix(": ", res.Message)), hookEvent(h.Name, h.Type, WebhookPassed, &res), nil); err != nil {
			c.opt.Logger.Warn("pre_rollout webhook's answer not recorded", "rollout", r.ID, "webhook", h.Name, "err", err)
			return Event{}, false
		}
	}
	return Event{Kind: EvWarmed}, true
}

// noteWebhook puts msg on warming rollout r's timeline, audited as
// rollout.webhook; a tally, the warm-up's, is kept in the rollout with it.
func (c *Controller) noteWebhook(ctx context.Context, r sluice.Rollout, msg string, hook *WebhookEvent, tally *sluice.WarmupTally) error {
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, err := c.transition(tctx, r.Spec.Model, "controller", msg, "rollout.webhook", func(cur *sluice.Rollout, now time.Time) (sluice.Rollout, []Action, error) {
		if cur == nil || cur.ID != r.ID || cur.Phase != sluice.PhaseWarming {
			return sluice.Rollout{}, nil, sluice.Errorf(sluice.CodeConflict, "rollout %s is no longer warming", r.ID)
		}
		return Next(*cur, Event{Kind: EvWebhook, Message: msg, Hook: hook, Warmup: tally}, now)
	})
	return err
}

// launchConfirm calls r's confirm_promotion webhooks (or its stage ones,
// for a stage's wait) in the background, unless their calls for the step
// it stands at already run or answered; the next analysis after they
// answer takes the answers (takeConfirm). The calls never hold up the
// controller's loop.
func (c *Controller) launchConfirm(r sluice.Rollout) {
	key := confirmKey(&r)
	c.mu.Lock()
	if cc := c.confirms[r.ID]; cc != nil && cc.key == key && (cc.running || cc.results != nil) {
		c.mu.Unlock()
		return
	}
	if cc := c.confirms[r.ID]; cc != nil && cc.cancel != nil {
		cc.cancel()
	}
	ctx, cancel := context.WithCancel(c.quit) // Run's stop ends it too
	cc := &confirmCall{key: key, cancel: cancel, running: true}
	c.confirms[r.ID] = cc
	c.mu.Unlock()
	c.spawn(false, func() {
		defer cancel()
		typ := sluice.WebhookConfirmPromotion
		if r.WebhookWait != nil && r.WebhookWait.Type != "" {
			typ = r.WebhookWait.Type
		}
		var results []WebhookResult
		for _, h := range r.Spec.WebhooksOf(typ) {
			res := c.opt.Webhooks.Call(ctx, h, webhookBody(&r, h))
			// A hold asked again every analysis interval logs its repeats
			// at debug: a change freeze held over a weekend wrote a line
			// every 10 s at info.
			level := slog.LevelInfo
			if w := r.WebhookWait; !res.Pass && w != nil && w.Webhook == h.Name && w.Message == res.Message {
				level = slog.LevelDebug
			}
			c.opt.Logger.Log(ctx, level, "rollout webhook", "type", typ, "rollout", r.ID, "webhook", h.Name, "call", res.CallID, "pass", res.Pass, "message", res.Message)
			results = append(results, res)
			if !res.Pass {
				break // the first that holds is what the rollout waits for
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.confirms[r.ID] == cc && ctx.Err() == nil {
			cc.running, cc.results = false, results
			cc.moves = moves(r.Spec.WebhooksOf(typ), typ, results)
			if cc.moves {
				// The answers take the step (every one passed) or end the
				// rollout (a stage webhook's fail): analyse it now rather
				// than at its next interval (10 s by default), if it still
				// waits for them (answered: a pause or a failing analysis
				// since ended the wait, and its schedule stands). A hold
				// waits for its interval, so a webhook that says "not yet"
				// is asked once an interval, not again at once.
				select {
				case c.wake <- struct{}{}:
				default: // a wake is pending already
				}
			}
		} else if c.confirms[r.ID] == cc {
			delete(c.confirms, r.ID)
		}
	})
	c.mu.Lock()
	if c.stopping && c.confirms[r.ID] == cc && cc.running {
		delete(c.confirms, r.ID) // not started: the next leader asks
		cancel()
	}
	c.mu.Unlock()
}

// moves reports whether results, the answers of the webhooks hooks of
// type typ, move the rollout when taken: every one passed, or a stage
// webhook did not (a rollback).
func moves(hooks []sluice.RolloutWebhook, typ string, results []WebhookResult) bool {
	if len(results) == 0 {
		return false
	}
	if !results[len(results)-1].Pass {
		return typ == sluice.WebhookStage
	}
	return len(results) == len(hooks)
}

// answered reports whether answers that move r (every one passed, or a
// stage webhook failed) came for the wait r stands at, so that its
// analysis is due now. c.mu is held.
func (c *Controller) answered(r *sluice.Rollout) bool {
	cc := c.confirms[r.ID]
	return cc != nil && cc.moves && !cc.running && cc.key == confirmKey(r)
}

// takeConfirm returns the answers of r's confirm_promotion calls for its
// promotion point, once, or nil while they run or none were made.
func (c *Controller) takeConfirm(r *sluice.Rollout) []WebhookResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	cc := c.confirms[r.ID]
	if cc == nil || cc.running {
		return nil
	}
	delete(c.confirms, r.ID)
	if cc.key != confirmKey(r) {
		return nil
	}
	return cc.results
}

// stopStaleConfirms cancels the calls of rollouts that reg no longer has
// active, and every call when this process does not lead.
func (c *Controller) stopStaleConfirms(reg *sluice.Registry, leading bool) {
	active := map[string]string{} // rollout id → the key of the wait it is at
	for _, r := range reg.Rollouts {
		// Paused: an answer given before the pause is not one for after
		// it; the analysis after the resume asks again.
		if r.Phase.Active() && r.Phase != sluice.PhasePaused {
			active[r.ID] = confirmKey(r)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cc := range c.confirms {
		// A wait that ended (a pause, an analysis that stopped passing,
		// a step taken) ends its calls: their answers are for it alone.
		if key, ok := active[id]; !leading || !ok || cc.key != key {
			if cc.cancel != nil {
				cc.cancel()
			}
			delete(c.confirms, id)
		}
	}
}

// webhookAnswers says what the webhooks answered, for the audit's reason.
func webhookAnswers(rs []WebhookResult) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += "; "
		}
		verdict := "holds"
		if r.Pass {
			verdict = "passes"
		}
		out += fmt.Sprintf("webhook %s %s (call %s)%s", r.Name, verdict, r.CallID, reasonSuffix(": ", r.Message))
	}
	return out
}

// repeatsHold reports whether answers hold r's step with what already
// holds it (the same webhook, the same message, answered before): the
// timeline counts such an answer rather than writing it again, and the
// audit files it with the routine analyses.
func repeatsHold(r *sluice.Rollout, answers []WebhookResult) bool {
	w := r.WebhookWait
	if w == nil || w.Asked == 0 {
		return false
	}
	for _, a := range answers {
		if !a.Pass {
			return a.Name == w.Webhook && a.Message == w.Message
		}
	}
	return false // every one passed: the step is taken
}
