package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestTimeout_StalledBody: a backend that sends its headers and part of a
// non-streamed answer, then stalls, is cut off at the request timeout with
// a 504 naming the version, as a backend that never answers is; one that
// breaks off its answer is a 502. Both HTTP servers.
func TestTimeout_StalledBody(t *testing.T) {
	backend := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2000")
		w.WriteHeader(200)
		io.WriteString(w, `{"object":"chat.completion","choices":[`)
		w.(http.Flusher).Flush()
		if r.Header.Get("X-Test") == "break" {
			// Hijack and close: the answer ends 1,960 bytes short.
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.Close()
			}
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
				c.HTTPServer = srv
				c.Timeouts.Request = 500 * time.Millisecond
			}, nil, chatDoc(map[string]string{"v1.0.0": backend}, nil, nil))
			for _, k := range []struct {
				header string
				status int
				code   string
				msg    string
			}{
				{"stall", http.StatusGatewayTimeout, "upstream_timeout", "did not finish its answer in time"},
				{"break", http.StatusBadGateway, "upstream_error", "broke off its answer"},
			} {
				start := time.Now()
				req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(frontChat))
				req.Header.Set("X-Test", k.header)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var e openAIError
				json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				d := time.Since(start)
				if resp.StatusCode != k.status || e.Error.Code != k.code || !strings.Contains(e.Error.Message, "chat:v1.0.0") || !strings.Contains(e.Error.Message, k.msg) {
					t.Errorf("%s: %d %+v; want %d %s %q", k.header, resp.StatusCode, e.Error, k.status, k.code, k.msg)
				}
				if d > 3*time.Second {
					t.Errorf("%s: the answer took %s with a 500ms request timeout", k.header, d)
				}
			}
		})
	}
}
