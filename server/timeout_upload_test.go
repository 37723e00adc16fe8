package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// What the user does: uploads a request body slowly (3 s, within the 4 s
// the request timeout allows for it), and the backend takes 3.5 s to
// answer, within the request timeout, which the proxy counts from the
// body's arrival.
// What must happen: the answer reaches the client. The net/http server's
// write deadline (boundWrites) was the request timeout + 2 s from the
// request's start, 6 s: the answer, ready at 6.5 s, was cut off and the
// client got no answer at all, though both the upload and the backend were
// within their bounds. Both HTTP servers (fasthttp sets its write deadline
// when it writes).
func TestTimeout_SlowUploadAnswerWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 6.5 s per server (skipped under -short)")
	}
	const (
		request = 4 * time.Second
		upload  = 3 * time.Second
		backend = 3500 * time.Millisecond
	)
	be := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(backend) // the backend's own work, part of the scenario
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	})
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			t.Parallel()
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
				c.HTTPServer = srv
				c.Timeouts.Request = request
			}, nil, chatDoc(map[string]string{"v1.0.0": be}, nil, nil))
			c, err := net.Dial("tcp", gw.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			req := frontRequest(frontChat)
			cut := len(req) - 10
			start := time.Now()
			io.WriteString(c, req[:cut])
			time.Sleep(upload) // the client's slow upload, part of the scenario
			io.WriteString(c, req[cut:])
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer %s after the request's start (upload %s, backend %s, timeouts.request %s): %v",
					time.Since(start).Round(time.Millisecond), upload, backend, request, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !strings.Contains(string(body), `"chat.completion"`) {
				t.Fatalf("answer %d %q %v; want the backend's chat completion", resp.StatusCode, body, err)
			}
		})
	}
}
