package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// The data plane's plain listener is fasthttp in front of net/http (issue
// 4): non-streamed inference is served by fasthttp, anything else hands the
// connection to net/http with the request replayed. These tests speak raw
// HTTP/1.1 on one connection, so a mistake in the hand-over (a lost or
// reordered request, a wrong length) shows as a wrong or missing answer.

const (
	frontChat   = `{"model":"chat","messages":[{"role":"user","content":"hi"}],"max_tokens":8}`
	frontStream = `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}],"max_tokens":8}`
)

func frontRequest(body string, extra ...string) string {
	return "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\n" +
		strings.Join(extra, "") + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body
}

// readAnswer reads one response from br and checks it is a proxied answer:
// status 200, the proxy's request id, and a chat completion or a stream
// ending in [DONE].
func readAnswer(t *testing.T, br *bufio.Reader, stream bool, what string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: read response: %v", what, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read body: %v", what, err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("X-Request-Id"), "req_") {
		t.Fatalf("%s: status %d, request id %q, body %.200s", what, resp.StatusCode, resp.Header.Get("X-Request-Id"), body)
	}
	switch {
	case stream && !strings.HasSuffix(strings.TrimSpace(string(body)), "data: [DONE]"):
		t.Fatalf("%s: stream does not end with [DONE]: %.300s", what, body)
	case !stream && !strings.Contains(string(body), `"chat.completion"`):
		t.Fatalf("%s: not a chat completion: %.300s", what, body)
	}
}

func frontGateway(t *testing.T, edit func(*config.Gateway)) (addr string) {
	t.Helper()
	b := MustBackend(t, fakellm.Config{})
	gw, _ := mustGatewayWith(t, edit, nil, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	return gw.Addr()
}

func dialT(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

func TestFront_KeepAliveAcrossHandOff(t *testing.T) {
	addr := frontGateway(t, nil)
	c, br := dialT(t, addr)
	steps := []struct {
		req    string
		stream bool
		what   string
	}{
		{frontRequest(frontChat), false, "chat served by fasthttp"},
		{frontRequest(frontChat), false, "second chat on the same connection"},
		{frontRequest(frontStream), true, "stream: the connection goes to net/http"},
		{frontRequest(frontChat), false, "chat after the hand-over"},
		{frontRequest(frontStream), true, "second stream"},
	}
	for _, s := range steps {
		if _, err := io.WriteString(c, s.req); err != nil {
			t.Fatal(err)
		}
		readAnswer(t, br, s.stream, s.what)
	}
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: sluice\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the hand-over: %v %v", resp, err)
	}
}

// Pipelined requests: what follows a handed-over request may already sit in
// fasthttp's read buffer; it must reach net/http, in order.
func TestFront_Pipelined(t *testing.T) {
	addr := frontGateway(t, nil)
	for _, seq := range [][]bool{
		{false, false, false},      // all hot
		{true, false, true, false}, // a stream first, then mixed
		{false, true, false},       // hot, then hand-over with one behind it
	} {
		c, br := dialT(t, addr)
		var all strings.Builder
		for _, stream := range seq {
			if stream {
				all.WriteString(frontRequest(frontStream))
			} else {
				all.WriteString(frontRequest(frontChat))
			}
		}
		if _, err := io.WriteString(c, all.String()); err != nil {
			t.Fatal(err)
		}
		for i, stream := range seq {
			readAnswer(t, br, stream, fmt.Sprintf("sequence %v, answer %d", seq, i+1))
		}
	}
}

// Chunked request bodies and Expect: 100-continue, on both sides.
func TestFront_ChunkedAndContinue(t *testing.T) {
	addr := frontGateway(t, nil)
	chunked := func(body string) string {
		half := len(body) / 2
		return "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", half, body[:half], len(body)-half, body[half:])
	}
	c, br := dialT(t, addr)
	for _, s := range []struct {
		req    string
		stream bool
	}{{chunked(frontChat), false}, {chunked(frontStream), true}, {chunked(frontChat), false}} {
		io.WriteString(c, s.req)
		readAnswer(t, br, s.stream, "chunked body")
	}

	for _, body := range []string{frontChat, frontStream} {
		c, br := dialT(t, addr)
		head := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
		io.WriteString(c, head)
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
			t.Fatalf("want 100 Continue first, got %q %v", line, err)
		}
		if _, err := br.ReadString('\n'); err != nil { // the blank line
			t.Fatal(err)
		}
		io.WriteString(c, body)
		readAnswer(t, br, strings.Contains(body, "stream"), "after 100 Continue")
	}
}

func TestFront_HeadersTooLarge(t *testing.T) {
	addr := frontGateway(t, nil)
	c, br := dialT(t, addr)
	io.WriteString(c, frontRequest(frontChat, "X-Big: "+strings.Repeat("a", 20<<10)+"\r\n"))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(body), "16 KiB") {
		t.Fatalf("status %d body %s, want 431 naming the limit", resp.StatusCode, body)
	}
}

func TestFront_NetHTTPOption(t *testing.T) {
	addr := frontGateway(t, func(c *config.Gateway) { c.HTTPServer = "net/http" })
	c, br := dialT(t, addr)
	for _, stream := range []bool{false, true, false} {
		body := frontChat
		if stream {
			body = frontStream
		}
		io.WriteString(c, frontRequest(body))
		readAnswer(t, br, stream, "http_server: net/http")
	}
	g := config.Default()
	g.HTTPServer = "nginx"
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "fasthttp or net/http") {
		t.Fatalf("http_server: nginx gave %v, want an error naming the choices", err)
	}
}

// A client that hangs up while its non-streamed request waits for the
// backend: the backend's request is cancelled soon after, not when the
// answer is ready, on either server.
func TestFront_HangUpCancelsBackend(t *testing.T) {
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			cancelled := make(chan time.Duration, 4)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			backend := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/chat/completions" {
					return // health checks
				}
				io.Copy(io.Discard, r.Body) // net/http notices a hang-up only once the body is read
				start := time.Now()
				select {
				case <-r.Context().Done():
					cancelled <- time.Since(start)
				case <-time.After(8 * time.Second):
					w.Write([]byte(`{"object":"chat.completion","choices":[]}`))
				}
			})}
			go backend.Serve(ln)
			t.Cleanup(func() { backend.Close() })
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv }, nil,
				chatDoc(map[string]string{"v1.0.0": "http://" + ln.Addr().String()}, nil, nil))
			c, _ := dialT(t, gw.Addr())
			io.WriteString(c, frontRequest(frontChat))
			time.Sleep(300 * time.Millisecond)
			c.Close()
			select {
			case d := <-cancelled:
				if d > 3*time.Second {
					t.Fatalf("backend request cancelled after %s", d)
				}
				t.Logf("backend request cancelled %s after it began (client left at ~300 ms)", d.Round(time.Millisecond))
			case <-time.After(5 * time.Second):
				t.Fatal("the backend's request was not cancelled within 5 s of the client hanging up")
			}
		})
	}
}

// BenchmarkFront_Chat: non-streamed chat completions over one keep-alive
// connection through the whole gateway (every account on, SQLite request
// log) to a fakellm backend, on each HTTP server. The client, the gateway
// and the backend share the process, so ns/op is the three together;
// allocs/op and B/op compare the servers' costs exactly.
func BenchmarkFront_Chat(b *testing.B) {
	for _, srv := range []string{"fasthttp", "net/http"} {
		b.Run(strings.ReplaceAll(srv, "/", ""), func(b *testing.B) {
			be := MustBackend(b, fakellm.Config{})
			gw, _ := mustGatewayWith(b, func(c *config.Gateway) { c.HTTPServer = srv }, nil,
				chatDoc(map[string]string{"v1.0.0": be.URL()}, nil, nil))
			c, err := net.Dial("tcp", gw.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte(frontRequest(frontChat, "X-User-Id: user-1234\r\n"))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
