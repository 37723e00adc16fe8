package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// PagerDutyEventsURL is where a pagerduty alert webhook posts when it
// gives no url: PagerDuty's Events API v2.
const PagerDutyEventsURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDutyEvents are the events a pager (a pagerduty or opsgenie webhook)
// is sent when it names none: those that need a person (a page), and the
// promotion and the resume that close them (a pager that takes paused is
// sent the resume whatever its events: Webhook.Wants). The others (a promotion's
// bake starting, an A/B test completing, an operator's abort) would open
// incidents no one needs, unless critical (an abort that left traffic on
// versions all down): a critical alert is sent whatever its kind. An
// abort of a rollout the controller's pause paged for still closes that
// pause's incident (Webhook.ClosesPause).
var PagerDutyEvents = []string{"rolled_back", "failed", "undone", "paused", "resumed", "promoted"}

// Webhook is one alert destination.
type Webhook struct {
	// URL receives a POST per alert; for pagerduty, empty means
	// PagerDutyEventsURL; for opsgenie it is the API's base (empty means
	// OpsgenieAPIURL), to which the requests add /v2/alerts....
	URL string `yaml:"url" json:"url"`
	// Format is "json" (the Alert as JSON, the default), "slack" (a
	// Slack-compatible {"text": ...} body), "msteams" (an Adaptive Card as
	// Teams' Workflows and incoming webhooks take it), "discord"
	// ({"content": ...}), "googlechat" ({"text": ...} in Google Chat's
	// formatting), "pagerduty" (an Events API v2 event) or "opsgenie"
	// (Opsgenie's Alert API v2).
	Format string `yaml:"format" json:"format"`
	// RoutingKey is a pagerduty webhook's integration key (a secret).
	RoutingKey string `yaml:"routing_key" json:"-"`
	// APIKey is an opsgenie webhook's API integration key (a secret), sent
	// as Authorization: GenieKey.
	APIKey string `yaml:"api_key" json:"-"`
	// Severity is the least severity sent (info, warning, critical); empty
	// sends all. A pager's close (a promotion, a resume) is sent whatever
	// its severity: it closes only what a page opened.
	Severity string `yaml:"severity" json:"severity,omitempty"`
	// Events are the alert kinds sent (sluice.AlertEvents); nil sends all,
	// but for a pager (pagerduty, opsgenie), which defaults to
	// PagerDutyEvents.
	Events []string `yaml:"events" json:"events,omitempty"`
}

// target is where h posts (for opsgenie, the API's base).
func (h Webhook) target() string {
	switch {
	case h.URL != "":
		return h.URL
	case h.Format == "pagerduty":
		return PagerDutyEventsURL
	case h.Format == "opsgenie":
		return OpsgenieAPIURL
	}
	return h.URL
}

// secrets are h's keys, which no log, error or answer may show.
func (h Webhook) secrets() []string {
	var out []string
	for _, k := range []string{h.RoutingKey, h.APIKey} {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

// format is h's format, json when it gives none.
func (h Webhook) format() string {
	if h.Format == "" {
		return "json"
	}
	return h.Format
}

// Wants says whether h is sent a: its kind among h's events and its
// severity at least h's. A test alert goes to every webhook. To a pager a
// resume is only the close of the controller's pause's incident, so it
// follows ClosesPause's rule: what opened the incident closes it, a pager
// that takes paused alerts is sent it whatever its events say of resumed,
// and one that leaves paused out, never paged for the pause, is not.
func (h Webhook) Wants(a Alert) bool {
	if a.Test {
		return true
	}
	if isPager(h.Format) && a.Event == "resumed" {
		return h.takesPaused()
	}
	events := h.Events
	if events == nil && isPager(h.Format) && a.Severity != "critical" {
		events = PagerDutyEvents // a critical alert pages whatever its kind
	}
	if events != nil && !slices.Contains(events, a.Event) {
		return false
	}
	if h.Severity == "" || isPager(h.Format) && pagerDutyAction(a) == "resolve" {
		return true
	}
	return sluice.AlertSeverityRank(a.Severity) >= sluice.AlertSeverityRank(h.Severity)
}

// ClosesPause says whether h is sent the close of the controller's pause's
// incident that a carries (Alert.PauseClose, on the alert of a rollout
// that ended, not promoted, while that pause held it): h is a pager and
// takes paused alerts (paused among its events, as by default), whatever
// its events say of a's own kind (an abort is not among the defaults) and
// whatever its severity floor, which never holds back a close. What opened
// the incident closes it; a pager that was never sent the pause is sent
// no close of it.
func (h Webhook) ClosesPause(a Alert) bool {
	if a.PauseClose == "" || a.Test || !isPager(h.Format) {
		return false
	}
	return h.takesPaused()
}

// takesPaused says whether h, a pager, is sent the controller's pause's
// alerts (paused among its events, as by default): the pagers that hold
// the pause's incident, which its close goes to.
func (h Webhook) takesPaused() bool {
	events := h.Events
	if events == nil {
		events = PagerDutyEvents
	}
	return slices.Contains(events, "paused")
}

// posts are what h is sent of a: the close of the pause's incident a
// carries, if h takes it (ClosesPause), then a itself, if h wants it.
func (w *Webhooks) posts(h Webhook, a Alert) []post {
	var out []post
	if h.ClosesPause(a) {
		out = append(out, pauseClosePost(h, a, w.source()))
	}
	if h.Wants(a) {
		out = append(out, alertPosts(h, a, w.source())...)
	}
	return out
}

// Webhooks sends alerts to every configured webhook, each in the
// background with a timeout, so a slow receiver never holds a rollback.
type Webhooks struct {
	// Hooks are the destinations; SetHooks replaces them while alerts are
	// being sent (a SIGHUP's reload).
	Hooks  []Webhook
	Client *http.Client
	Logger *slog.Logger
	// Source names this gateway in a PagerDuty event's payload; empty
	// means the host's name.
	Source string

	mu      sync.Mutex
	sending sync.WaitGroup // alerts being sent (with their retries)
	// last holds, per hook and model, the delivery of the latest alert
	// being sent (closed when it is delivered or given up), which the
	// next one waits for: a pager must get a trigger before its resolve,
	// and a retried trigger would otherwise come after a resolve sent
	// meanwhile. Guarded by mu.
	last map[string]chan struct{}
}

// SetHooks replaces the destinations: the alerts sent from then on go to
// hooks; those being sent finish where they were going.
func (w *Webhooks) SetHooks(hooks []Webhook) {
	w.mu.Lock()
	w.Hooks = hooks
	w.mu.Unlock()
}

func (w *Webhooks) hooks() []Webhook {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.Hooks
}

// Wait waits until the alerts being sent are delivered or given up (each
// within its retries: three attempts of up to 10 s each and the 6 s
// between them, 36 s at most), or until ctx ends: a gateway
// shutting down does not drop a rollback's page.
func (w *Webhooks) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { w.sending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (w *Webhooks) client() *http.Client {
	if w.Client != nil {
		return w.Client
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (w *Webhooks) source() string {
	if w.Source != "" {
		return w.Source
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return host
	}
	return "sluice"
}

// Alert implements Alerter: a is sent to each webhook that wants it.
func (w *Webhooks) Alert(ctx context.Context, a Alert) {
	client := w.client()
	for _, h := range w.hooks() {
		posts := w.posts(h, a)
		if len(posts) == 0 {
			continue
		}
		key := h.Format + "\x00" + h.target() + "\x00" + a.Model
		done := make(chan struct{})
		w.mu.Lock()
		prev := w.last[key]
		if w.last == nil {
			w.last = map[string]chan struct{}{}
		}
		w.last[key] = done
		w.mu.Unlock()
		w.sending.Go(func() {
			if prev != nil {
				<-prev // this hook's last alert about the model first
			}
			for _, p := range posts {
				w.send(client, h, p)
			}
			close(done)
			w.mu.Lock()
			if w.last[key] == done {
				delete(w.last, key)
			}
			w.mu.Unlock()
		})
	}
}

// Delivery is what one webhook did with a test alert.
type Delivery struct {
	// Index is the webhook's place in rollouts.alerts, from 0.
	Index int `json:"index"`
	// Format is its format.
	Format string `json:"format"`
	// Where is its URL's scheme and host only: the rest may be a secret.
	Where string `json:"where"`
	// Delivered says the receiver answered 2xx.
	Delivered bool `json:"delivered"`
	// Status is the receiver's HTTP status; 0 when it gave none.
	Status int `json:"status,omitempty"`
	// Error says why it was not delivered.
	Error string `json:"error,omitempty"`
}

// Test sends a to every webhook, whatever its filters, once each (no
// retries) and at the same time, and says what each did: sluice alert
// test's check that the pages reach their receivers.
func (w *Webhooks) Test(ctx context.Context, a Alert) []Delivery {
	a.Test, a.Event = true, "test"
	client := w.client()
	hooks := w.hooks()
	out := make([]Delivery, len(hooks))
	var wg sync.WaitGroup
	for i, h := range hooks {
		out[i] = Delivery{Index: i, Format: h.format(), Where: SafeURL(h.target())}
		p := alertPosts(h, a, w.source())[0] // a test alert opens one incident, never closes
		wg.Go(func() {
			status, err := w.attempt(ctx, client, h, p)
			out[i].Status = status
			if err != nil {
				out[i].Error = err.Error()
			} else {
				out[i].Delivered = true
			}
		})
	}
	wg.Wait()
	return out
}

// alertRetries are the waits before each further attempt at an alert that
// failed for a reason that may pass (no answer, a 5xx, 429).
var alertRetries = []time.Duration{time.Second, 5 * time.Second}

// send posts one alert, retrying as alertRetries says, and logs one that
// could not be delivered. The log names the hook by scheme and host only:
// a Slack webhook URL is itself a secret.
func (w *Webhooks) send(client *http.Client, h Webhook, p post) {
	where := SafeURL(h.target())
	for attempt := 0; ; attempt++ {
		status, err := w.attempt(context.Background(), client, h, p)
		if err == nil {
			return
		}
		if status == -1 {
			w.warn("alert webhook URL is not usable", where, err)
			return
		}
		retry := status == 0 || status >= 500 || status == http.StatusTooManyRequests
		if !retry || attempt == len(alertRetries) {
			w.warn("alert webhook failed; the alert is lost", where, fmt.Errorf("after %d attempt(s): %w", attempt+1, err))
			return
		}
		w.warn("alert webhook failed; retrying in "+alertRetries[attempt].String(), where, err)
		time.Sleep(alertRetries[attempt])
	}
}

// attempt posts p to h once: a 2xx is delivered (nil). Otherwise it
// returns the receiver's status (0 for no answer, -1 for a URL that cannot
// be requested) and an error that never quotes the URL.
func (w *Webhooks) attempt(ctx context.Context, client *http.Client, h Webhook, p post) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(p.body))
	if err != nil {
		return -1, errors.New("the URL is not usable: correct rollouts.alerts' url")
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Format == "opsgenie" {
		req.Header.Set("Authorization", "GenieKey "+h.APIKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message quotes the whole URL
		}
		return 0, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 == 2 {
		return resp.StatusCode, nil
	}
	msg := fmt.Sprintf("the receiver answered %d", resp.StatusCode)
	ct := resp.Header.Get("Content-Type")
	if a := strings.TrimSpace(string(answer)); a != "" && (strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "text/plain")) {
		// PagerDuty says what is wrong with an event ({"status":"invalid
		// event","errors":[...]}), Opsgenie too ({"message":...}), Slack
		// and Discord in a line of text. A receiver quoting the routing
		// key or API key it was sent must not put the secret in the log,
		// the API's answer or the audit.
		for _, k := range h.secrets() {
			a = strings.ReplaceAll(a, k, "REDACTED")
		}
		msg += ": " + cutRunes(a, 300)
	}
	return resp.StatusCode, errors.New(msg)
}

func (w *Webhooks) warn(msg, where string, err error) {
	if w.Logger != nil {
		w.Logger.Warn(msg, "webhook", where, "err", err)
	}
}

// SafeURL returns raw with only its scheme and host, for logs and
// messages: the path of a Slack incoming webhook, and any user:password,
// are secrets.
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a webhook URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// slackEscape escapes &, < and > as Slack's message format asks.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cutRunes cuts s to at most n runes, ending a cut one with "…".
func cutRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
