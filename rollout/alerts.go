package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Webhook is one alert destination.
type Webhook struct {
	// URL receives a POST per alert.
	URL string `yaml:"url" json:"url"`
	// Format is "json" (the Alert as JSON, the default) or "slack" (a
	// Slack-compatible {"text": ...} body).
	Format string `yaml:"format" json:"format"`
}

// Webhooks sends alerts to every configured webhook, each in the
// background with a timeout, so a slow receiver never holds a rollback.
type Webhooks struct {
	Hooks  []Webhook
	Client *http.Client
	Logger *slog.Logger

	sending sync.WaitGroup // alerts being sent (with their retries)
}

// Wait waits until the alerts being sent are delivered or given up (each
// within its retries: about 16 s at most), or until ctx ends: a gateway
// shutting down does not drop a rollback's page.
func (w *Webhooks) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { w.sending.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Alert implements Alerter.
func (w *Webhooks) Alert(ctx context.Context, a Alert) {
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	for _, h := range w.Hooks {
		var body []byte
		if h.Format == "slack" {
			icon := map[string]string{"critical": ":rotating_light:", "warning": ":warning:"}[a.Severity]
			if icon == "" {
				icon = ":white_check_mark:"
			}
			// Slack reads &, < and > as control characters (<!channel>
			// notifies everyone); the text is escaped as its docs say.
			body, _ = json.Marshal(map[string]string{"text": fmt.Sprintf("%s *%s* %s", icon, slackEscape(a.Rollout), slackEscape(a.Message))})
		} else {
			body, _ = json.Marshal(a)
		}
		w.sending.Go(func() { w.send(client, h, body) })
	}
}

// alertRetries are the waits before each further attempt at an alert that
// failed for a reason that may pass (no answer, a 5xx, 429).
var alertRetries = []time.Duration{time.Second, 5 * time.Second}

// send posts one alert, retrying as alertRetries says, and logs one that
// could not be delivered. The log names the hook by scheme and host only:
// a Slack webhook URL is itself a secret.
func (w *Webhooks) send(client *http.Client, h Webhook, body []byte) {
	where := SafeURL(h.URL)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, h.URL, bytes.NewReader(body))
		if err != nil {
			w.warn("alert webhook URL is not usable", where, err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		var status int
		resp, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			status = resp.StatusCode
			if status/100 == 2 {
				return
			}
			err = fmt.Errorf("the receiver answered %d", status)
		} else {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its message quotes the whole URL
			}
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
