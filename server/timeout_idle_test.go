package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestTimeout_IdleStream: the config file's timeouts.idle reaches the data
// plane. A backend that sends a stream's first event and then nothing is
// cut off at timeouts.idle, long before timeouts.request, with an error
// event naming the version and the setting; with timeouts.idle: 0 the
// same stream runs on to timeouts.request.
func TestTimeout_IdleStream(t *testing.T) {
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select { // a wedged worker: the connection stays open
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(be.Close)
	stream := func(t *testing.T, idle config.Duration, request time.Duration) (time.Duration, string) {
		t.Helper()
		doc := chatDoc(map[string]string{"v1.0.0": be.URL}, nil, nil)
		gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Timeouts.Idle, c.Timeouts.Request = &idle, request }, nil, doc)
		start := time.Now()
		resp, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","stream":true,"messages":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		return time.Since(start), lines[len(lines)-1]
	}
	t.Run("Idle", func(t *testing.T) {
		const idle = 500 * time.Millisecond
		took, last := stream(t, config.Duration(idle), 30*time.Second)
		if took < idle || took > 2*idle {
			t.Errorf("the stalled stream lasted %v with timeouts.idle %v, want about that", took, idle)
		}
		if !strings.HasPrefix(last, `data: {"error"`) || !strings.Contains(last, "chat:v1.0.0") || !strings.Contains(last, "timeouts.idle") {
			t.Errorf("the stalled stream ended with %q, want an error event naming the version and timeouts.idle", last)
		}
	})
	t.Run("Off", func(t *testing.T) {
		const request = 1500 * time.Millisecond
		took, last := stream(t, 0, request)
		if took < request || !strings.Contains(last, "timeouts.request") {
			t.Errorf("with timeouts.idle 0 the stalled stream lasted %v and ended with %q, want it cut at timeouts.request (%v)", took, last, request)
		}
	})
}
