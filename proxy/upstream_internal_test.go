package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawBackend answers each request on a connection with the next of its
// scripted answers, written as they are, so tests control every byte.
type rawBackend struct {
	ln      net.Listener
	answers chan string
	conns   atomic.Int64
	got     chan string // request heads and bodies, as received
	// closeAfter closes each connection after this many answers (0: never).
	closeAfter int
}

func newRawBackend(t *testing.T, closeAfter int, answers ...string) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{ln: ln, answers: make(chan string, len(answers)), got: make(chan string, 64), closeAfter: closeAfter}
	for _, a := range answers {
		b.answers <- a
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.conns.Add(1)
			go b.serve(c)
		}
	}()
	return b
}

func (b *rawBackend) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for n := 1; ; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, _ := io.ReadAll(req.Body)
		var head strings.Builder
		req.Header.Write(&head)
		b.got <- req.Method + " " + req.URL.Path + "\n" + head.String() + "\n" + string(body)
		a, ok := <-b.answers
		if !ok {
			return
		}
		if a == "HANG" {
			time.Sleep(time.Hour)
		}
		io.WriteString(c, a)
		if b.closeAfter > 0 && n >= b.closeAfter {
			return
		}
	}
}

func (b *rawBackend) url() string { return "http://" + b.ln.Addr().String() }

func upTest(t *testing.T, u *upstream, endpoint string, r *upRequest) (*http.Response, string, error) {
	t.Helper()
	if r == nil {
		r = &upRequest{path: "/v1/chat/completions", header: http.Header{"Content-Type": {"application/json"}}, reqID: "req_1", body: []byte(`{"model":"m"}`)}
	}
	resp, err := u.roundTrip(context.Background(), endpoint, r)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body), err
}

func TestUpstream_Bodies(t *testing.T) {
	for _, tc := range []struct {
		name, answer, want string
		reuse              bool
	}{
		{"ContentLength", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello", "hello", true},
		{"Chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n", "hello world", true},
		{"ChunkedUpper", "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n", "0123456789", true},
		{"Empty", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", true},
		{"NoContent", "HTTP/1.1 204 No Content\r\n\r\n", "", true},
		{"Continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", true},
		{"ConnectionClose", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "ok", false},
		{"HTTP10", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", false},
		{"UntilClose", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", "all of it", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closeAfter := 0
			if tc.name == "UntilClose" {
				closeAfter = 1
			}
			be := newRawBackend(t, closeAfter, tc.answer, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo")
			u := newUpstream(time.Second, 5*time.Second, nil)
			resp, body, err := upTest(t, u, be.url(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if body != tc.want {
				t.Errorf("body %q, want %q", body, tc.want)
			}
			if resp.StatusCode/100 != 2 {
				t.Errorf("status %d", resp.StatusCode)
			}
			if _, body, err = upTest(t, u, be.url(), nil); err != nil || body != "two" {
				t.Fatalf("second request: %q, %v", body, err)
			}
			if reused := be.conns.Load() == 1; reused != tc.reuse {
				t.Errorf("connections %d, want reuse %v", be.conns.Load(), tc.reuse)
			}
		})
	}
}

func TestUpstream_Request(t *testing.T) {
	be := newRawBackend(t, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	u := newUpstream(time.Second, 5*time.Second, nil)
	h := http.Header{
		"Content-Type": {"application/json"}, "Authorization": {"Bearer k"}, "X-Multi": {"a", "b"},
		"Connection": {"x"}, "Te": {"trailers"}, "X-Request-Id": {"client"}, "Accept-Encoding": {"gzip"}, "X-Sluice-Version": {"v9"},
	}
	_, _, err := upTest(t, u, be.url()+"/prefix/v1/", &upRequest{path: "/v1/chat/completions", header: h, reqID: "req_9", shadow: true, body: []byte("BODY")})
	if err != nil {
		t.Fatal(err)
	}
	got := <-be.got
	for _, want := range []string{"POST /prefix/v1/chat/completions\n", "Authorization: Bearer k", "X-Multi: a\r\nX-Multi: b", "X-Request-Id: req_9", "X-Sluice-Shadow: true", "\n\nBODY"} {
		if !strings.Contains(got, want) {
			t.Errorf("request lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"Connection: x", "Te:", "client", "gzip", "v9"} {
		if strings.Contains(got, bad) {
			t.Errorf("request has %q:\n%s", bad, got)
		}
	}
}

func TestUpstream_LargeBody(t *testing.T) {
	be := newRawBackend(t, 0, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	u := newUpstream(time.Second, 5*time.Second, nil)
	big := strings.Repeat("x", 3*maxKeptWriteBuf)
	if _, _, err := upTest(t, u, be.url(), &upRequest{path: "/v1/x", reqID: "r", body: []byte(big)}); err != nil {
		t.Fatal(err)
	}
	if got := <-be.got; !strings.HasSuffix(got, "\n\n"+big) {
		t.Errorf("large body not sent whole (%d bytes received)", len(got))
	}
}

// A connection the backend closed while idle is noticed on its next use,
// and the request is sent again on a new one.
func TestUpstream_StaleConnection(t *testing.T) {
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	be := newRawBackend(t, 1, ok, ok, ok)
	u := newUpstream(time.Second, 5*time.Second, nil)
	for i := range 3 {
		if _, body, err := upTest(t, u, be.url(), nil); err != nil || body != "ok" {
			t.Fatalf("request %d: %q, %v", i, body, err)
		}
		time.Sleep(20 * time.Millisecond) // let the backend's close arrive
	}
	if n := be.conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3", n)
	}
}

func TestUpstream_Errors(t *testing.T) {
	t.Run("FirstByteTimeout", func(t *testing.T) {
		be := newRawBackend(t, 0, "HANG")
		u := newUpstream(time.Second, 100*time.Millisecond, nil)
		start := time.Now()
		_, _, err := upTest(t, u, be.url(), nil)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err %v, want a timeout", err)
		}
		if classify(context.Background(), err) != "timeout" {
			t.Errorf("classified %q", classify(context.Background(), err))
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %s", d)
		}
	})
	t.Run("Refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		u := newUpstream(time.Second, time.Second, nil)
		_, _, err := upTest(t, u, "http://"+addr, nil)
		if err == nil || classify(context.Background(), err) != "connect" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("Malformed", func(t *testing.T) {
		be := newRawBackend(t, 0, "HTTP/1.1 2x0 OK\r\n\r\n")
		u := newUpstream(time.Second, time.Second, nil)
		if _, _, err := upTest(t, u, be.url(), nil); err == nil {
			t.Fatal("a malformed status line was accepted")
		}
	})
	t.Run("BrokenChunked", func(t *testing.T) {
		be := newRawBackend(t, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel")
		u := newUpstream(time.Second, time.Second, nil)
		_, _, err := upTest(t, u, be.url(), nil)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err %v, want unexpected EOF", err)
		}
	})
	t.Run("BadEndpoint", func(t *testing.T) {
		u := newUpstream(time.Second, time.Second, nil)
		if _, _, err := upTest(t, u, "ftp://x", nil); err == nil {
			t.Fatal("ftp endpoint accepted")
		}
	})
	t.Run("DeadlineMidBody", func(t *testing.T) {
		// The header and a first chunk come at once, then nothing: the
		// request's deadline, not the first-byte bound, ends the body.
		be := newRawBackend(t, 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		u := newUpstream(time.Second, time.Second, nil)
		start := time.Now()
		r := &upRequest{path: "/v1/x", reqID: "r", deadline: start.Add(150 * time.Millisecond)}
		resp, err := u.roundTrip(context.Background(), be.url(), r)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		var ne net.Error
		if string(body) != "hello" || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("body %q, err %v; want hello and a timeout", body, err)
		}
		if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
			t.Errorf("the body ended after %s, want 150 ms and a watchdog tick", d)
		}
		resp.Body.Close()
		if got := len(u.endpointOf(be.url()).pool.idle); got != 0 {
			t.Errorf("%d idle connections after a cut-off request, want 0: its deadline is spent", got)
		}
	})
	t.Run("CanceledMidBody", func(t *testing.T) {
		be := newRawBackend(t, 0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		u := newUpstream(time.Second, time.Second, nil)
		ctx, cancel := context.WithCancel(context.Background())
		resp, err := u.roundTrip(ctx, be.url(), &upRequest{path: "/v1/x", reqID: "r"})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		start := time.Now()
		if _, err := resp.Body.Read(buf); err == nil {
			t.Fatal("read went on after the context ended")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("cancel took %s", d)
		}
		resp.Body.Close()
	})
}

func TestUpstream_TLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host+" "+r.URL.Path)
	}))
	defer srv.Close()
	// Timeouts are not what this checks; a TLS handshake under -race on a
	// busy machine took over a second once.
	u := newUpstream(10*time.Second, 10*time.Second, nil)
	pool := u.endpointOf(srv.URL).pool
	pool.tls.InsecureSkipVerify = true
	pool.tls.RootCAs = nil
	_, body, err := upTest(t, u, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimPrefix(srv.URL, "https://") + " /v1/chat/completions"; body != want {
		t.Errorf("body %q, want %q", body, want)
	}
}

// Many requests at once share and reuse connections without mixing up
// answers.
func TestUpstream_Concurrent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Request-Id"))
	}))
	defer srv.Close()
	u := newUpstream(time.Second, 5*time.Second, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := "req_" + strconv.Itoa(g) + "_" + strconv.Itoa(i)
				_, body, err := upTest(t, u, srv.URL, &upRequest{path: "/v1/x", reqID: id})
				if err != nil || body != id {
					t.Errorf("%s: got %q, %v", id, body, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// The watchdog runs only while requests are in flight, and forgets each
// request when its body is closed.
func TestUpstream_WatchdogStopsWhenIdle(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	u := newUpstream(time.Second, time.Second, nil)
	for range 20 {
		if _, body, err := upTest(t, u, srv.URL, nil); err != nil || body != "ok" {
			t.Fatalf("%q, %v", body, err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		u.watchdog.mu.Lock()
		n, running := len(u.watchdog.conns), u.watchdog.running
		u.watchdog.mu.Unlock()
		if n == 0 && !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("watchdog: %d requests watched, running %v, after every body was closed", n, running)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := len(u.endpointOf(srv.URL).pool.idle); got != 1 {
		t.Errorf("%d idle connections, want the one all 20 requests reused", got)
	}
}
