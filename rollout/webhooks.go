package rollout

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

// WebhookMessageMax is how much of a webhook's message (or of its answer's
// body, when it gives none) the timeline and the reasons keep, in bytes.
const WebhookMessageMax = 300

// WebhookBody is the JSON a rollout's webhook is POSTed.
type WebhookBody struct {
	// CallID identifies this call: a retry after a restart or a change of
	// leader has another one (calls are at least once).
	CallID string `json:"call_id"`
	// Type and Name are the webhook's.
	Type string `json:"type"`
	Name string `json:"name"`
	// Rollout, Model, Baseline, Candidate and Strategy name the rollout.
	Rollout   string `json:"rollout"`
	Model     string `json:"model"`
	Baseline  string `json:"baseline"`
	Candidate string `json:"candidate"`
	Strategy  string `json:"strategy"`
	// CandidatePin and BaselinePin are the model names that reach each
	// version through the gateway ("chat:v1.2.0"), for an eval suite that
	// calls the candidate with an OpenAI client; requests pinned so are
	// left out of the rollout's analysis.
	CandidatePin string `json:"candidate_pin"`
	BaselinePin  string `json:"baseline_pin"`
	// Phase, Stage (from 1) and Percent say where the rollout stands.
	Phase   string  `json:"phase"`
	Stage   int     `json:"stage"`
	Percent float64 `json:"percent"`
}

// WebhookResult is a webhook's answer, as the state machine reads it.
type WebhookResult struct {
	Name    string `json:"name"`
	CallID  string `json:"call_id"`
	Pass    bool   `json:"pass"`
	Message string `json:"message,omitempty"`
}

// The statuses of a webhook event (WebhookEvent.Status).
const (
	WebhookCalling = "calling" // a pre_rollout webhook's call is under way
	WebhookWaiting = "waiting" // a step waits for the webhooks' first answers
	WebhookPassed  = "passed"  // it passed
	WebhookFailed  = "failed"  // it did not pass, and the rollout ends (pre_rollout, stage)
	WebhookHeld    = "held"    // a confirm_promotion webhook did not pass: the step holds and asks again
)

// WebhookEvent is the data of a webhook event on a rollout's timeline
// (kind webhook): which webhook, of which type, and how it went, so that
// a reader (the dashboard) never parses the message, which quotes the
// webhook's own answer. An answer keeps WebhookResult's fields (name,
// call_id, pass, message), as the events stored before this carried them.
type WebhookEvent struct {
	// Webhook names the webhook; Webhooks, for a wait, every one waited
	// for, in the order they are asked (Webhook is the first).
	Webhook  string   `json:"webhook"`
	Webhooks []string `json:"webhooks,omitempty"`
	// Type is the webhooks' type (pre_rollout, confirm_promotion, stage).
	Type string `json:"type"`
	// Status is WebhookCalling, WebhookWaiting, WebhookPassed,
	// WebhookFailed or WebhookHeld.
	Status string `json:"status"`
	// CallID is the call's id (a call's and an answer's). Name, Pass and
	// Message are an answer's, as WebhookResult has them.
	Name    string `json:"name,omitempty"`
	CallID  string `json:"call_id,omitempty"`
	Pass    *bool  `json:"pass,omitempty"`
	Message string `json:"message,omitempty"`
}

// hookEvent is the data of an event about webhook name of type typ:
// status, and res's call id, with its answer for an answer's status.
func hookEvent(name, typ, status string, res *WebhookResult) *WebhookEvent {
	d := &WebhookEvent{Webhook: name, Type: typ, Status: status}
	if res == nil {
		return d
	}
	d.CallID = res.CallID
	if status != WebhookCalling && status != WebhookWaiting {
		pass := res.Pass
		d.Name, d.Pass, d.Message = res.Name, &pass, res.Message
	}
	return d
}

// WebhookCaller calls a rollout's webhook. It reports a failed call (no
// answer, a timeout, a non-2xx) as a result that does not pass, never as
// a panic, and bounds its time by the webhook's timeout.
type WebhookCaller interface {
	Call(ctx context.Context, h sluice.RolloutWebhook, body WebhookBody) WebhookResult
}

// HTTPWebhooks is the WebhookCaller that POSTs the body as JSON with the
// webhook's headers. A 2xx answer passes unless its JSON body says
// "pass": false; its "message" (or, on a non-2xx, the start of the body)
// is kept, up to WebhookMessageMax bytes.
type HTTPWebhooks struct {
	// Client sends the calls; nil means one that follows no redirects.
	Client *http.Client
}

// Call implements WebhookCaller.
func (w *HTTPWebhooks) Call(ctx context.Context, h sluice.RolloutWebhook, body WebhookBody) WebhookResult {
	res := WebhookResult{Name: h.Name, CallID: body.CallID}
	client := w.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	ctx, cancel := context.WithTimeout(ctx, h.Wait())
	defer cancel()
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(b))
	if err != nil {
		res.Message = "cannot call it: " + err.Error()
		return res
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "sluice-webhook")
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			res.Message = fmt.Sprintf("no answer within its timeout of %s", h.Wait())
		default:
			res.Message = "call failed: " + redactURLError(err).Error()
		}
		return res
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ans struct {
		Pass    *bool  `json:"pass"`
		Message string `json:"message"`
	}
	parsed := json.Unmarshal(raw, &ans) == nil
	msg := ans.Message
	if !parsed || msg == "" && resp.StatusCode/100 != 2 {
		msg = strings.TrimSpace(string(raw))
	}
	msg = truncate(msg, WebhookMessageMax)
	if resp.StatusCode/100 != 2 {
		res.Message = fmt.Sprintf("answered %d", resp.StatusCode)
		if msg != "" {
			res.Message += ": " + msg
		}
		return res
	}
	res.Pass = !parsed || ans.Pass == nil || *ans.Pass
	res.Message = msg
	if !res.Pass && msg == "" {
		res.Message = `answered "pass": false`
	}
	return res
}

// truncate cuts s to at most n bytes at a character boundary, marking a
// cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// newCallID returns a random id for one webhook call.
func newCallID(rolloutID string) string {
	var b [6]byte
	rand.Read(b[:])
	return rolloutID + "-" + hex.EncodeToString(b[:])
}

// webhookBody is the body of a call to h about r.
func webhookBody(r *sluice.Rollout, h sluice.RolloutWebhook) WebhookBody {
	s := r.Spec
	return WebhookBody{
		CallID: newCallID(r.ID), Type: h.Type, Name: h.Name,
		Rollout: r.ID, Model: s.Model, Baseline: s.Baseline, Candidate: s.Candidate, Strategy: string(s.Strategy),
		CandidatePin: s.Model + ":" + s.Candidate, BaselinePin: s.Model + ":" + s.Baseline,
		Phase: string(r.Phase), Stage: r.StageIndex + 1, Percent: r.Percent,
	}
}

// validWebhookUse refuses a confirm_promotion webhook where the controller
// never promotes on its own (a canary or preview without auto-promotion,
// an A/B test, a shadow run, a rolling change): it would never be asked,
// and its operator would believe the promotion gated.
func validWebhookUse(s sluice.RolloutSpec) error {
	if err := sluice.ValidateWebhooks(s.Webhooks); err != nil {
		return err
	}
	for i, h := range s.Webhooks {
		if h.Type == sluice.WebhookStage && !UsesStages(s.Strategy) {
			at := fmt.Sprintf("webhooks[%d].type", i)
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{at}, Message: fmt.Sprintf("rollout.%s: stage webhook %q would never be asked: a %s rollout has no stages to advance through (only progressive and pipeline rollouts do)", at, h.Name, s.Strategy)}
		}
		if h.Type != sluice.WebhookConfirmPromotion {
			continue
		}
		why := ""
		switch s.Strategy {
		case sluice.StrategyCanary, sluice.StrategyBlueGreen:
			if !s.AutoPromote {
				why = fmt.Sprintf("a %s rollout without auto_promote is promoted by an operator (sluice rollout promote), which is the approval and does not ask it: add auto_promote (--auto-promote), or leave the webhook out", s.Strategy)
			}
		case sluice.StrategyABTest:
			why = "an A/B test ends with a report and an operator's sluice rollout conclude, which does not ask it: leave the webhook out"
		case sluice.StrategyShadow:
			why = "a shadow run never promotes: leave the webhook out, or use the pipeline strategy"
		case sluice.StrategyRolling:
			why = "a rolling rollout promotes as soon as the candidate is warm: use a pre_rollout webhook to gate it"
		}
		if why != "" {
			at := fmt.Sprintf("webhooks[%d].type", i)
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{at}, Message: fmt.Sprintf("rollout.%s: confirm_promotion webhook %q would never be asked: %s", at, h.Name, why)}
		}
	}
	return nil
}

// confirmedPromote promotes r, as promote does, once every
// confirm_promotion webhook of its spec passed: results are the answers
// to the calls made since the last analysis (none while the first call
// runs). Until then the rollout holds where it is, records what holds it
// (Rollout.WebhookWait, and the timeline when the answer changes), and
// asks the controller to call them again (ActConfirm).
func confirmedPromote(r sluice.Rollout, results []WebhookResult, now time.Time, why string) (sluice.Rollout, []Action) {
	gate, names, _ := webhookGate(&r, sluice.WebhookConfirmPromotion, results, now, "the promotion", why)
	if gate == gateWait {
		return r, []Action{{Kind: ActConfirm}}
	}
	if names != "" {
		why += "; confirmed by webhook " + names
	}
	return promote(r, now, why)
}

// gateOutcome is what a rollout's webhooks of one type say of a step.
type gateOutcome int

const (
	gateOpen gateOutcome = iota // none declared, or every one passed: take the step
	gateWait                    // the rollout waits (no answer yet, or a confirm_promotion that did not pass)
	gateShut                    // a stage webhook did not pass: roll back
)

// webhookGate checks r's webhooks of typ at a step (what: "the
// promotion", "stage 3"; why: the reason for taking it) against results.
// It records on r what it waits for (Rollout.WebhookWait) and the
// answers on the timeline (a repeated answer counted, not repeated), and
// returns the outcome, the names of the webhooks (empty when none), and
// for gateShut the answer that shut it. A confirm_promotion webhook that
// does not pass holds the step; a stage webhook that does not pass shuts
// it.
func webhookGate(r *sluice.Rollout, typ string, results []WebhookResult, now time.Time, what, why string) (gateOutcome, string, WebhookResult) {
	hooks := r.Spec.WebhooksOf(typ)
	if len(hooks) == 0 {
		return gateOpen, "", WebhookResult{}
	}
	got := map[string]WebhookResult{}
	for _, res := range results {
		got[res.Name] = res
	}
	var names []string
	for _, h := range hooks {
		names = append(names, h.Name)
	}
	var hold *sluice.RolloutWebhook
	var ans WebhookResult
	answered := false
	for _, h := range hooks {
		res, ok := got[h.Name]
		if !ok || !res.Pass {
			hold, ans, answered = &h, res, ok
			break
		}
	}
	if hold == nil {
		r.WebhookWait = nil
		for _, h := range hooks {
			res := got[h.Name]
			event(r, now, "webhook", fmt.Sprintf("webhook %s (%s) passed%s", h.Name, typ, reasonSuffix(": ", res.Message)), hookEvent(h.Name, typ, WebhookPassed, &res))
		}
		return gateOpen, strings.Join(names, ", "), WebhookResult{}
	}
	if answered && typ == sluice.WebhookStage {
		r.WebhookWait = nil
		event(r, now, "webhook", fmt.Sprintf("webhook %s (stage) failed before %s: %s", hold.Name, what, ans.Message), hookEvent(hold.Name, typ, WebhookFailed, &ans))
		return gateShut, strings.Join(names, ", "), ans
	}
	w := r.WebhookWait
	if w == nil || w.Type != typ && !(w.Type == "" && typ == sluice.WebhookConfirmPromotion) {
		w = &sluice.WebhookWait{Since: now, Type: typ}
		wait := hookEvent(hooks[0].Name, typ, WebhookWaiting, nil)
		wait.Webhooks = names
		event(r, now, "webhook", fmt.Sprintf("%s waits for webhook %s (%s): %s", what, strings.Join(names, ", "), typ, why), wait)
	} else {
		c := *w
		w = &c
	}
	if answered {
		w.Asked++
		if w.Webhook != hold.Name || w.Message != ans.Message || w.Asked == 1 {
			event(r, now, "webhook", fmt.Sprintf("webhook %s (%s) holds %s: %s; asked again every analysis interval", hold.Name, typ, what, ans.Message), hookEvent(hold.Name, typ, WebhookHeld, &ans))
		}
		w.Message = ans.Message
	}
	w.Webhook = hold.Name
	w.Type = typ
	r.WebhookWait = w
	return gateWait, strings.Join(names, ", "), WebhookResult{}
}
