package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// scriptBackend runs serve on every connection it accepts (numbered from 1)
// and counts the requests read through readReq.
type scriptBackend struct {
	ln    net.Listener
	conns atomic.Int64
	reqs  atomic.Int64
}

func newScriptBackend(t *testing.T, serve func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader)) *scriptBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &scriptBackend{ln: ln}
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			n := b.conns.Add(1)
			go func() {
				defer c.Close()
				serve(b, n, c, bufio.NewReader(c))
			}()
		}
	}()
	return b
}

// readReq reads one whole request, counting it.
func (b *scriptBackend) readReq(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, req.Body)
	b.reqs.Add(1)
	return true
}

func (b *scriptBackend) url() string { return "http://" + b.ln.Addr().String() }

// burst sends n requests at once to endpoint, so that n connections are
// opened and then pooled.
func burst(t *testing.T, u *upstream, endpoint string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, body, err := upTest(t, u, endpoint, nil); err != nil || body != "ok" {
				t.Errorf("burst: %q, %v", body, err)
			}
		})
	}
	wg.Wait()
}

const reuseOK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// Backends such as vLLM/SGLang (uvicorn, timeout_keep_alive 5 s) and the
// llama.cpp server (5 s) close keep-alive connections idle for a few
// seconds; the gateway keeps them for 90 s. After a burst that left several
// connections in the pool and a lull longer than the backend's keep-alive
// timeout, every pooled connection is dead. The first request takes one,
// meets EOF, and is "retried once" on... the next dead pooled connection, so
// it fails: the user gets a 502 ("failed (EOF)"), and so does about every
// other request until the pool is drained (each burns two dead connections).
func TestUpstream_DeadPooledConnsNotUsed(t *testing.T) {
	const keepAlive = 100 * time.Millisecond
	be := newScriptBackend(t, func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader) {
		for {
			c.SetReadDeadline(time.Now().Add(keepAlive)) // the backend's keep-alive timeout
			if !b.readReq(br) {
				return
			}
			c.SetReadDeadline(time.Time{})
			time.Sleep(50 * time.Millisecond) // generating: requests overlap
			io.WriteString(c, reuseOK)
		}
	})
	u := newUpstream(time.Second, 5*time.Second, nil)
	burst(t, u, be.url(), 4)
	if n := len(u.endpointOf(be.url()).pool.idle); n < 2 {
		t.Fatalf("only %d pooled connections after the burst; the test needs 2", n)
	}
	time.Sleep(3 * keepAlive) // a lull: the backend closes its idle connections
	if _, body, err := upTest(t, u, be.url(), nil); err != nil || body != "ok" {
		t.Fatalf("first request after a lull: %q, %v; want ok (the backend is up and answering)", body, err)
	}
}

// The backend read the whole request and worked on it (a generation), then
// the connection ended without an answer (the backend crashed, was OOM-killed
// or restarted). The gateway sends the same POST again on a new connection:
// the backend runs the generation twice (GPU time, tokens billed twice, tool
// side effects), and the user waits up to two first-byte timeouts.
// http.Transport never resends a POST once it has been written (only
// errServerClosedIdle for idempotent requests, or nothingWrittenError), which
// the comment on upstream claims to follow.
func TestUpstream_WrittenRequestNotResent(t *testing.T) {
	be := newScriptBackend(t, func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader) {
		for i := 1; b.readReq(br); i++ {
			if n == 1 && i == 2 {
				time.Sleep(100 * time.Millisecond) // processing the request
				return                             // then the connection ends without an answer
			}
			io.WriteString(c, reuseOK)
		}
	})
	u := newUpstream(time.Second, 5*time.Second, nil)
	if _, body, err := upTest(t, u, be.url(), nil); err != nil || body != "ok" {
		t.Fatalf("first request: %q, %v", body, err)
	}
	_, _, err := upTest(t, u, be.url(), nil) // on the pooled connection
	if got := be.reqs.Load(); got != 2 {
		t.Fatalf("the backend received %d requests for 2 sent (second attempt err %v): a POST it had received and worked on for 100 ms was sent again", got, err)
	}
}

// Even by the client's own rule ("fresh is true when any byte of an answer
// arrived, so the request must not be sent again"), a backend that got as
// far as writing part of its status line before the connection broke has
// processed the request, yet readHeader reports fresh=false because no whole
// line arrived, and the request is sent again.
func TestUpstream_PartialAnswerNotResent(t *testing.T) {
	be := newScriptBackend(t, func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader) {
		for i := 1; b.readReq(br); i++ {
			if n == 1 && i == 2 {
				io.WriteString(c, "HTTP/1.1 50") // the answer had begun
				return
			}
			io.WriteString(c, reuseOK)
		}
	})
	u := newUpstream(time.Second, 5*time.Second, nil)
	if _, body, err := upTest(t, u, be.url(), nil); err != nil || body != "ok" {
		t.Fatalf("first request: %q, %v", body, err)
	}
	_, _, err := upTest(t, u, be.url(), nil)
	if got := be.reqs.Load(); got != 2 {
		t.Fatalf("the backend received %d requests for 2 sent (second attempt err %v): the request was sent again after bytes of its answer had arrived", got, err)
	}
}

// An https backend whose TCP port accepts connections but whose process
// does not complete the TLS handshake (a frozen server: a blocked uvicorn
// event loop, a SIGSTOPped or swapping process; the kernel still accepts
// into the listen backlog). The handshake runs under the client's context
// only, which has no deadline for a live request with the own client, so
// neither the first-byte timeout nor the request timeout applies: the
// request hangs until the client gives up, and holds its gateway resources
// (in-flight counter, goroutine, buffers) forever for clients that never do.
func TestUpstream_TLSHandshakeBounded(t *testing.T) {
	be := newScriptBackend(t, func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br) // never answers the ClientHello
	})
	u := newUpstream(time.Second, 200*time.Millisecond, nil) // connect 1 s, first byte 200 ms
	r := &upRequest{path: "/v1/chat/completions", reqID: "r", body: []byte(`{"model":"m"}`),
		deadline: time.Now().Add(300 * time.Millisecond)} // the request timeout
	done := make(chan error, 1)
	go func() {
		resp, err := u.roundTrip(context.Background(), "https://"+be.ln.Addr().String(), r)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error from a backend that never completes the TLS handshake")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("still waiting for the TLS handshake after 3 s, with a 200 ms first-byte timeout, a 300 ms request deadline and a 1 s connect timeout")
	}
}

// The pool closes connections idle longer than idleTimeout (90 s) only when
// a connection is put back into that same pool or taken from it. A backend
// that stops getting traffic (a version retired by a rollout, a canary
// rolled back, an endpoint removed from the model file) keeps all its idle
// connections, up to the peak concurrency it saw (maxIdle 1024), open for
// the life of the gateway: the backend holds them (Ollama, TGI have no idle
// timeout), or, when the backend closes them (uvicorn, llama.cpp after 5 s),
// the gateway keeps the sockets in CLOSE_WAIT, leaking file descriptors at
// every rollout until "too many open files". http.Transport closes each idle
// connection on a timer (IdleConnTimeout).
func TestUpstream_IdleConnsClosedWithoutTraffic(t *testing.T) {
	var closedByGateway atomic.Int64
	be := newScriptBackend(t, func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader) {
		for b.readReq(br) {
			time.Sleep(50 * time.Millisecond) // requests overlap
			io.WriteString(c, reuseOK)
		}
		closedByGateway.Add(1) // the gateway closed the connection (EOF)
	})
	u := newUpstream(time.Second, 5*time.Second, nil)
	u.idleTimeout = 100 * time.Millisecond // 90 s in production
	burst(t, u, be.url(), 3)
	time.Sleep(10 * u.idleTimeout) // no more traffic to this backend
	if open := be.conns.Load() - closedByGateway.Load(); open != 0 {
		t.Fatalf("%d of %d connections still open after %s idle, 10 times the idle timeout", open, be.conns.Load(), 10*u.idleTimeout)
	}
}

// A backend that refuses a large request before reading all of it answers
// at once and closes: TGI refuses bodies over its payload limit (2 MB by
// default; a vision request with a base64 image easily exceeds it, the
// gateway's own limit being 8 MiB) with 413, and an auth proxy in front of
// a backend answers 401 without reading the body. The closing socket has
// unread data, so the backend's kernel resets the connection, and the
// client's single write of the whole request fails with "connection reset
// by peer". The own client returns that write error and never reads the
// answer that is waiting in its socket: the user gets 502 "the backend ...
// cannot be reached (writev: connection reset by peer)" instead of the 413
// or 401 that says what to change, the attempt counts as a backend failure
// (retried on stable, outlier ejection, canary analysis). http.Transport
// returns the 413 here.
func TestUpstream_EarlyAnswerReadAfterWriteError(t *testing.T) {
	be := newScriptBackend(t, func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.CopyN(io.Discard, req.Body, 64<<10) // reads a little, then refuses
		io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 19\r\n\r\nbody over 2000000 B")
		time.Sleep(10 * time.Millisecond)
	})
	u := newUpstream(time.Second, 5*time.Second, nil)
	big := make([]byte, 7<<20) // under the gateway's default 8 MiB limit
	for i := range big {
		big[i] = 'x'
	}
	resp, _, err := upTest(t, u, be.url(), &upRequest{path: "/v1/chat/completions", reqID: "r", body: big})
	if err != nil {
		t.Fatalf("err %v; want the backend's 413 answer", err)
	}
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

// The idle sweeper runs only while some connection is idle: once the last
// one is closed it stops, and the next pooled connection starts it again.
func TestUpstream_SweeperStopsWhenNothingIdle(t *testing.T) {
	be := newScriptBackend(t, func(b *scriptBackend, n int64, c net.Conn, br *bufio.Reader) {
		for b.readReq(br) {
			io.WriteString(c, reuseOK)
		}
	})
	u := newUpstream(time.Second, 5*time.Second, nil)
	u.idleTimeout = 500 * time.Millisecond
	for round := range 2 {
		if _, body, err := upTest(t, u, be.url(), nil); err != nil || body != "ok" {
			t.Fatalf("round %d: %q, %v", round, body, err)
		}
		if !u.sweeping.Load() {
			t.Fatalf("round %d: no sweeper while a connection is idle", round)
		}
		deadline := time.Now().Add(5 * time.Second)
		for u.sweeping.Load() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if u.sweeping.Load() || u.idleCount() != 0 {
			t.Fatalf("round %d: sweeper still running (%v) or %d idle after the idle timeout", round, u.sweeping.Load(), u.idleCount())
		}
	}
}
