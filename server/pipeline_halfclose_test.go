package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// What the user does: writes three chat requests on one connection without
// waiting for answers (pipelining), then shuts down its write side (TCP
// half-close) and reads.
// What must happen: three answers, in order, then the end of the
// connection, on both HTTP servers, as net/http gives them. net/http takes
// the half-close for the client leaving (its read ahead sees the end of
// the stream; golang/go#18527), so it cancels each request's context, and
// answers each request it read all the same. The fasthttp front's hang-up
// watcher cancels a request 100 ms old the same way, but the front then
// closed the connection, and the requests behind the first got no answer.
// Each canceled request is answered 499 with a message, never with the
// empty 200 both servers sent when the proxy wrote nothing for it.
func TestFront_PipelinedThenHalfClosedAllAnswered(t *testing.T) {
	backend := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select { // a backend slower than the watcher's 100 ms
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			panic(http.ErrAbortHandler)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	})
	const n = 3
	servers(t, backend, func(t *testing.T, srv, addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, strings.Repeat(frontRequest(frontChat), n))
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		seen := map[string]bool{}
		for i := 1; i <= n; i++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d of %d: %v", i, n, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("X-Request-Id")
			if err != nil || !strings.HasPrefix(id, "req_") || seen[id] {
				t.Fatalf("answer %d: %d, request id %q (seen %v), %q %v; want the proxy's answer to a request of its own", i, resp.StatusCode, id, seen, body, err)
			}
			seen[id] = true
			// A request the half-close canceled says so; none is an empty
			// 200 (what both servers sent before writeCanceled).
			served := resp.StatusCode == 200 && strings.Contains(string(body), `"choices"`)
			canceled := resp.StatusCode == 499 && strings.Contains(string(body), `"code":"canceled"`) && strings.Contains(string(body), "half-close")
			if !served && !canceled {
				t.Fatalf("answer %d: %d %q; want the backend's answer or a 499 that says the request was canceled", i, resp.StatusCode, body)
			}
			t.Logf("answer %d: %d %q", i, resp.StatusCode, body)
		}
		if k, err := br.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after %d answers: %d more bytes, %v; want the connection's end", n, k, err)
		}
	})
}
