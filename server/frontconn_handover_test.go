package server_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// What the user does: on one keep-alive connection, a request the fasthttp
// front answers itself (a CRLF chat), then an admin request whose head ends
// its lines in a bare LF, which the front hands to net/http with the
// connection, and whose body takes a while.
// What must happen: the admin request is answered. fasthttp had set a
// write deadline for its own answer (timeouts.request + 2 s after it); the
// hand-over of a bare-LF head left it on the connection (fasthttp's
// hijack, the other hand-over, clears it), and net/http, which has no write
// timeout outside /v1/ (boundWrites), kept it for its first request there:
// an answer written after it failed, as would a UI event stream.
func TestFront_BareLFHandOverClearsFasthttpDeadlines(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	gw, admin := mustGatewayWith(t, func(c *config.Gateway) {
		c.HTTPServer = "fasthttp"
		c.Timeouts.Request = 200 * time.Millisecond // fasthttp's write deadline: 2.2 s after its answer
	}, nil, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	c, br := dialT(t, gw.Addr())
	// answer reads an answer; want is its status, or 0 for any.
	answer := func(name string, want int) {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || want != 0 && resp.StatusCode != want {
			t.Fatalf("%s: %d %q %v", name, resp.StatusCode, body, err)
		}
	}
	io.WriteString(c, frontRequest(frontChat))
	answer("crlf chat (fasthttp)", 200)
	answered := time.Now()
	io.WriteString(c, "POST /admin/v1/tokens HTTP/1.1\nHost: sluice\nAuthorization: Bearer "+admin+
		"\nContent-Type: application/json\nContent-Length: 2\n\n")
	// The body comes after fasthttp's write deadline (the client's own
	// delay, part of the scenario).
	time.Sleep(time.Until(answered.Add(2500 * time.Millisecond)))
	io.WriteString(c, "{}")
	answer("lf admin request, its body late (net/http)", 0)
}
