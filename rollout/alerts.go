package rollout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
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
			body, _ = json.Marshal(map[string]string{"text": fmt.Sprintf("%s *%s* %s", icon, a.Rollout, a.Message)})
		} else {
			body, _ = json.Marshal(a)
		}
		go func() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, h.URL, bytes.NewReader(body))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				if w.Logger != nil {
					w.Logger.Warn("alert webhook failed", "url", h.URL, "err", err)
				}
				return
			}
			resp.Body.Close()
		}()
	}
}
