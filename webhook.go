package sluice

import (
	"fmt"
	"strings"
	"time"
)

// The types of a rollout's webhook checks (RolloutWebhook.Type).
const (
	// WebhookPreRollout is called once the candidate is warm, before it
	// takes any traffic (a share, a mirror or a preview): an eval suite
	// run against the candidate through the gateway (its pin). A fail
	// ends the rollout as a failed warm-up does, no traffic moved.
	WebhookPreRollout = "pre_rollout"
	// WebhookConfirmPromotion is asked before the controller promotes
	// (a progressive rollout's last step, a canary's or a blue-green
	// preview's auto-promotion). A fail holds the rollout where it is and
	// asks again each analysis interval; it never rolls back by itself.
	// An operator's sluice rollout promote does not ask it.
	WebhookConfirmPromotion = "confirm_promotion"
	// WebhookStage is asked before a progressive rollout (or a
	// pipeline's stages) moves to its next stage, not the promotion: a
	// pass advances, a fail rolls back.
	WebhookStage = "stage"
)

// WebhookTypes lists the webhook types.
var WebhookTypes = []string{WebhookPreRollout, WebhookConfirmPromotion, WebhookStage}

// DefaultWebhookTimeout is a webhook's timeout when none is given, and
// MaxWebhookTimeout the longest one may be.
const (
	DefaultWebhookTimeout = 60 * time.Second
	MaxWebhookTimeout     = 30 * time.Minute
)

// RolloutWebhook is an HTTP check that can stop or hold a rollout: the
// gateway's leader POSTs a JSON body naming the rollout to URL, and a 2xx
// answer passes unless its JSON body says "pass": false. Calls are made at
// least once: a restart or a change of leader mid-call calls again (the
// body's call_id differs).
type RolloutWebhook struct {
	// Name identifies the webhook on the timeline and in reasons.
	Name string `json:"name" yaml:"name"`
	// URL is the http or https URL called.
	URL string `json:"url" yaml:"url"`
	// Type is WebhookPreRollout or WebhookConfirmPromotion.
	Type string `json:"type" yaml:"type"`
	// Timeout bounds each call; zero means DefaultWebhookTimeout. A call
	// that times out fails.
	Timeout Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	// Headers are sent with each call (an Authorization, say). They are
	// stored with the rollout; answers to tokens below admin show their
	// values as REDACTED.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`
}

// Wait returns the webhook's timeout, its default filled in.
func (w RolloutWebhook) Wait() time.Duration {
	if w.Timeout == 0 {
		return DefaultWebhookTimeout
	}
	return w.Timeout.D()
}

// ValidateWebhooks checks a rollout's webhooks, naming the entry and the
// key at fault as a model file spells it (rollout.webhooks[i].url).
func ValidateWebhooks(hooks []RolloutWebhook) error {
	seen := map[string]bool{}
	for i, h := range hooks {
		at := fmt.Sprintf("webhooks[%d]", i)
		bad := func(key, msg string, args ...any) error {
			return &Error{Code: CodeInvalid, Fields: []string{at + key}, Message: fmt.Sprintf("rollout.%s%s: ", at, key) + fmt.Sprintf(msg, args...)}
		}
		if err := CheckName("webhook name", h.Name); err != nil {
			return bad(".name", "%s", ErrorMessage(err))
		}
		if seen[h.Name] {
			return bad(".name", "webhook %q is declared twice: give each its own name", h.Name)
		}
		seen[h.Name] = true
		if err := CheckEndpoint(h.URL); err != nil {
			return bad(".url", "webhook %q: %s", h.Name, ErrorMessage(err))
		}
		switch h.Type {
		case WebhookPreRollout, WebhookConfirmPromotion, WebhookStage:
		case "":
			return bad(".type", "webhook %q has no type: give %s", h.Name, strings.Join(WebhookTypes, ", "))
		default:
			return bad(".type", "webhook %q: unknown type %q: use %s", h.Name, h.Type, strings.Join(WebhookTypes, ", "))
		}
		if h.Timeout < 0 || h.Timeout.D() > MaxWebhookTimeout {
			return bad(".timeout", "webhook %q: timeout %s is out of range: give at most %s (default %s)", h.Name, h.Timeout.D(), MaxWebhookTimeout, DefaultWebhookTimeout)
		}
		for k := range h.Headers {
			if !headerName(k) {
				return bad(".headers", "webhook %q: %q is not a header name", h.Name, k)
			}
			if h.Headers[k] == RedactedUserinfo {
				return bad(".headers", "webhook %q: header %s is %s, as the API shows it to tokens below admin: give its real value", h.Name, k, RedactedUserinfo)
			}
			if strings.ContainsAny(h.Headers[k], "\r\n") {
				return bad(".headers", "webhook %q: header %s holds a line break: remove it", h.Name, k)
			}
		}
	}
	return nil
}

// WebhooksOf returns the webhooks of spec of type typ, in order.
func (s RolloutSpec) WebhooksOf(typ string) []RolloutWebhook {
	var out []RolloutWebhook
	for _, h := range s.Webhooks {
		if h.Type == typ {
			out = append(out, h)
		}
	}
	return out
}

// WebhookWait is a step held for webhooks: the rollout would promote (or
// advance a stage), and waits for every confirm_promotion (or stage)
// webhook to pass.
type WebhookWait struct {
	// Type is the webhooks' type: confirm_promotion (empty in a rollout
	// stored before stage webhooks) or stage.
	Type string `json:"type,omitempty"`
	// Webhook names the webhook waited for (the first that did not pass).
	Webhook string `json:"webhook"`
	// Message is what it last answered (or why its call failed); empty
	// while its first call runs.
	Message string `json:"message,omitempty"`
	// Since is when the promotion began to wait.
	Since time.Time `json:"since"`
	// Asked counts the answers that held it.
	Asked int `json:"asked,omitempty"`
}

// headerName reports whether k is an HTTP header name (a token).
func headerName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}
