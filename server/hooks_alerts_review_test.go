package server_test

// The tests here came from a review, with the bugs they found; their
// comments say what the code did before the fix.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/rollout"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitLog(buf *syncBuf, d time.Duration) string {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if s := buf.String(); s != "" {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	return buf.String()
}

func reviewAlert(msg string) rollout.Alert {
	return rollout.Alert{Severity: "critical", Rollout: "r1", Model: "chat", Message: msg, At: time.Now()}
}

// A Slack incoming-webhook URL is a credential (hooks.slack.com/services/
// T…/B…/secret). A failed delivery is logged, and the log must not carry it.
func TestHooks_AlertFailureLogDoesNotLeakWebhookSecret(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the delivery fails
	buf := &syncBuf{}
	w := &rollout.Webhooks{
		Hooks:  []rollout.Webhook{{URL: "http://" + addr + "/services/T0000/B0000/XOXB-TOPSECRET", Format: "slack"}},
		Logger: slog.New(slog.NewTextHandler(buf, nil)),
	}
	w.Alert(context.Background(), reviewAlert("rolled back"))
	log := waitLog(buf, 3*time.Second)
	if log == "" {
		t.Fatal("the failed delivery was not logged")
	}
	if strings.Contains(log, "TOPSECRET") {
		t.Errorf("the alert webhook's secret URL is in the log:\n%s", log)
	}
}

// A receiver that answers with an error status (Slack's 403 invalid_token,
// 404 no_service, a 500) did not take the alert: that must be reported,
// as the unload webhook's non-2xx is, not dropped silently.
func TestHooks_AlertNon2xxIsReported(t *testing.T) {
	var hits sync.WaitGroup
	hits.Add(1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		http.Error(w, "no_service", http.StatusNotFound)
		hits.Done()
	}))
	defer srv.Close()
	buf := &syncBuf{}
	w := &rollout.Webhooks{
		Hooks:  []rollout.Webhook{{URL: srv.URL, Format: "json"}},
		Logger: slog.New(slog.NewTextHandler(buf, nil)),
	}
	w.Alert(context.Background(), reviewAlert("rolled back"))
	hits.Wait()
	if log := waitLog(buf, time.Second); log == "" {
		t.Error("the alert webhook answered 404 and nothing was logged: the alert is lost silently")
	}
}

// Slack reads '&', '<' and '>' in "text" as control characters and asks
// senders to escape them (&amp; &lt; &gt;): a rollback reason holding
// "<!channel>" pings the whole channel, and "p99 < 4s" can be mangled.
func TestHooks_SlackTextEscaped(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Text string `json:"text"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		got <- body.Text
	}))
	defer srv.Close()
	w := &rollout.Webhooks{Hooks: []rollout.Webhook{{URL: srv.URL, Format: "slack"}}}
	w.Alert(context.Background(), reviewAlert("rolled back: <!channel> p99 3.9 < 4 & errors > 2%"))
	select {
	case text := <-got:
		if strings.ContainsAny(strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(text, "&amp;", ""), "&lt;", ""), "&gt;", ""), "<>&") {
			t.Errorf("Slack text has unescaped control characters: %q", text)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no Slack alert arrived")
	}
}
