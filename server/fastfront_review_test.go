package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// rawBackend starts a backend whose chat endpoint is h (health checks and
// other paths get an empty 200) and returns its URL.
func rawBackend(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" && r.URL.Path != "/v1/audio/speech" {
			return
		}
		h(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// servers runs f on a gateway with each HTTP server in front of backend.
func servers(t *testing.T, backend string, f func(t *testing.T, srv, addr string)) {
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv }, nil,
				chatDoc(map[string]string{"v1.0.0": backend}, nil, nil))
			f(t, srv, gw.Addr())
		})
	}
}

// A backend answer without a Content-Type: net/http's server sniffs one
// from the body (text/plain; charset=utf-8 for JSON), as a client of the
// net/http gateway sees; the fasthttp front must send the same.
func TestFront_ContentTypeSniffedLikeNetHTTP(t *testing.T) {
	backend := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = nil // no Content-Type, and no sniffing here
		io.WriteString(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	})
	got := map[string]string{}
	servers(t, backend, func(t *testing.T, srv, addr string) {
		c, br := dialT(t, addr)
		io.WriteString(c, frontRequest(frontChat))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got[srv] = strings.Join(resp.Header.Values("Content-Type"), ", ")
	})
	if got["fasthttp"] != got["net/http"] {
		t.Fatalf("Content-Type of an answer without one: fasthttp %q, net/http %q", got["fasthttp"], got["net/http"])
	}
}

// A stream asked for with an escaped key ("str\u0065am" is "stream" to a
// JSON reader, and to the proxy) must be streamed: the first event reaches
// the client before the backend's last one, as on net/http.
func TestFront_EscapedStreamKeyIsStreamed(t *testing.T) {
	// The backend sends its last event only when the client has the first
	// (or after 10 s): a stream buffered to the end reaches the client
	// after those 10 s, a streamed one at once, whatever the machine's load.
	release := make(chan struct{}, 2)
	backend := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		io.WriteString(w, `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"a"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, `data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	})
	body := `{"model":"chat","str\u0065am":true,"messages":[{"role":"user","content":"hi"}]}`
	servers(t, backend, func(t *testing.T, srv, addr string) {
		c, br := dialT(t, addr)
		start := time.Now()
		io.WriteString(c, frontRequest(body))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "data: ") {
			t.Fatalf("first line %q %v", line, err)
		}
		release <- struct{}{}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("first event after %s: the stream was buffered until the backend finished", d.Round(time.Millisecond))
		}
	})
}

// A connection on which the client sends nothing is closed at the header
// timeout without an answer, as net/http does: a response nobody asked
// for would be read by a client (a pool that opened the connection ahead)
// as the answer to the request it sends next.
func TestFront_IdleNewConnectionClosedSilently(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s header timeout")
	}
	servers(t, "http://127.0.0.1:1", func(t *testing.T, srv, addr string) {
		t.Parallel()
		c, _ := dialT(t, addr)
		start := time.Now()
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if d := time.Since(start); d < 9*time.Second {
			t.Fatalf("closed after %s, want the 10 s header timeout", d)
		}
		if len(b) > 0 {
			t.Fatalf("a connection that sent nothing was answered: %q", b)
		}
	})
}

// A request fasthttp cannot read is answered without echoing what the
// client sent: its key or a session cookie (HttpOnly, which a page's
// script must not read) would come back in the error's body.
func TestFront_ParseErrorDoesNotEchoRequest(t *testing.T) {
	addr := frontGateway(t, nil)
	for _, req := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\nCookie: session=SECRET1\r\nAuthorization: Bearer sk-SECRET2\r\n\r\n",
		"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-SECRET2\r\nContent-Length: x1\r\n\r\n",
		"G@T /healthz HTTP/1.1\r\nHost: x\r\nCookie: session=SECRET1\r\n\r\n",
	} {
		c, br := dialT(t, addr)
		io.WriteString(c, req)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || strings.Contains(string(body), "SECRET") {
			t.Fatalf("%q: %d %s, want a 400 without the request's contents", req, resp.StatusCode, body)
		}
	}
}

// A body over max_body_bytes announced with Expect: 100-continue (curl
// sends it for bodies over 1 MiB) is refused before the client sends it,
// as net/http's server does: a 413 instead of 100 Continue, not a 413
// after the whole upload (or a reset connection, on a slow link).
func TestFront_ExpectContinueTooLargeRefusedFirst(t *testing.T) {
	addr := frontGateway(t, nil)
	for _, path := range []string{"/v1/chat/completions", "/admin/v1/models"} {
		c, br := dialT(t, addr)
		io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 9000000\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "max_body_bytes") {
			t.Fatalf("%s: %d %s, want 413 naming max_body_bytes before the body is sent", path, resp.StatusCode, body)
		}
	}
}

// A path that is not already clean ("/v1//chat/completions", with "..")
// gets what net/http's mux gives it (a redirect to the clean path), not
// the hot path's answer for the path fasthttp cleaned: the two servers
// answer the same request alike.
func TestFront_UncleanPathAnsweredLikeNetHTTP(t *testing.T) {
	b := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[]}`)
	})
	paths := []string{"/v1//chat/completions", "/v1/embeddings/../chat/completions", "/v1/./chat/completions", "/v1/chat%2Fcompletions", "/v1/chat/completions?x=1"}
	got := map[string][]string{}
	servers(t, b, func(t *testing.T, srv, addr string) {
		for _, p := range paths {
			c, br := dialT(t, addr)
			io.WriteString(c, strings.Replace(frontRequest(frontChat), "/v1/chat/completions", p, 1))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			got[srv] = append(got[srv], p+" "+resp.Status+" "+resp.Header.Get("Location"))
		}
	})
	for i := range paths {
		if got["fasthttp"][i] != got["net/http"][i] {
			t.Errorf("fasthttp %q, net/http %q", got["fasthttp"][i], got["net/http"][i])
		}
	}
}

// An expectation other than 100-continue cannot be met: net/http answers
// 417 and closes the connection without serving the request; the fasthttp
// front must do the same, on the hot path and off it, and still serve an
// Expect: 100-continue in any letter case.
func TestFront_UnknownExpectationFailsLikeNetHTTP(t *testing.T) {
	var served atomic.Int64
	b := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[]}`)
	})
	cases := []struct{ body, expect string }{
		{frontChat, "Expect: 200-ok\r\n"},
		{frontStream, "Expect: 200-ok\r\n"},
		{frontChat, "Expect: 100-Continue\r\n"},
	}
	got := map[string][]string{}
	servers(t, b, func(t *testing.T, srv, addr string) {
		for _, k := range cases {
			before := served.Load()
			c, br := dialT(t, addr)
			io.WriteString(c, frontRequest(k.body, k.expect))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode == http.StatusContinue {
				resp, err = http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
			}
			io.Copy(io.Discard, resp.Body)
			line := fmt.Sprintf("%s: %d close=%v backend=%d", strings.TrimSpace(k.expect), resp.StatusCode, resp.Close, served.Load()-before)
			if resp.StatusCode == http.StatusExpectationFailed {
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := br.ReadByte(); err == nil {
					t.Errorf("%s: the connection stays open after the 417", srv)
				}
			}
			got[srv] = append(got[srv], line)
		}
	})
	want := []string{"Expect: 200-ok: 417 close=true backend=0", "Expect: 200-ok: 417 close=true backend=0", "Expect: 100-Continue: 200 close=false backend=1"}
	for _, srv := range []string{"fasthttp", "net/http"} {
		if strings.Join(got[srv], "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", srv, strings.Join(got[srv], "\n"), strings.Join(want, "\n"))
		}
	}
}

// Headers a sender lists in Connection are for the next hop only (RFC
// 9110, 7.6.1): the client's are not sent to the backend, the backend's
// not to the client, on either server, hot path or stream.
func TestFront_ConnectionListedHeadersNotForwarded(t *testing.T) {
	var leaked atomic.Int64
	b := rawBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("X-Hop") != "" || r.Header.Get("X-Hop-Too") != "" {
			leaked.Add(1)
		}
		if r.Header.Get("X-End") != "kept" {
			t.Errorf("an end-to-end header was dropped: %v", r.Header)
		}
		w.Header().Set("Connection", "X-Back-Hop")
		w.Header().Set("X-Back-Hop", "1")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[]}`)
	})
	servers(t, b, func(t *testing.T, srv, addr string) {
		for _, body := range []string{frontChat, frontStream} {
			c, br := dialT(t, addr)
			io.WriteString(c, frontRequest(body, "Connection: keep-alive, X-Hop\r\nConnection: x-hop-too\r\nX-Hop: secret\r\nX-Hop-Too: secret\r\nX-End: kept\r\n"))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("X-Back-Hop") != "" {
				t.Errorf("%s: status %d, backend's hop-by-hop header reached the client: %v", srv, resp.StatusCode, resp.Header)
			}
		}
	})
	if n := leaked.Load(); n != 0 {
		t.Errorf("%d requests reached the backend with headers the client listed in Connection", n)
	}
}
