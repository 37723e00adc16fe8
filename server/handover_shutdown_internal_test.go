package server

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// handOverFront starts a fasthttp front whose net/http side answers every
// request with "served by net/http", and returns it with its address.
// beforePush runs where the front gives a hijacked connection to net/http.
func handOverFront(t *testing.T, beforePush func()) (*fastFront, *http.Server, string) {
	t.Helper()
	s := &Server{Config: config.Default(), logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slow := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "served by net/http")
	}))
	f := s.newFastFront(ln.Addr(), http.NotFoundHandler(), slow)
	f.beforePush = beforePush
	f.serve(s, ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.shutdown(ctx)
		s.wg.Wait()
	})
	return f, slow, ln.Addr().String()
}

// until polls cond every millisecond for up to 5 s.
func until(cond func() bool) bool {
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// What the user does: sends a request the fasthttp front hands to net/http
// (a stream, the admin API, the UI) just as the gateway shuts down.
// What must happen: the request, read before the shutdown, is served (with
// the connection closed after it), as net/http's Shutdown serves the requests it had
// read; or, if the shutdown's time runs out before it reaches net/http, it
// is refused with a clean 503. The hand-over runs in the hijack's own
// goroutine after fasthttp counts the connection done, so fasthttp's
// Shutdown returned and net/http's began before the connection reached it:
// the connection was closed without an answer (the listener was closed, or
// net/http read the request after its Shutdown began and dropped it). The
// hook holds the hand-over back (as a busy machine's scheduler may) until
// the shutdown has moved on to net/http: its Shutdown began, or the front
// waits for the hand-over.
func TestFront_ShutdownServesHandedOverRequest(t *testing.T) {
	t.Run("Served", func(t *testing.T) {
		var f *fastFront
		var slow *http.Server
		hijacked := make(chan struct{})
		slowDown := make(chan struct{})
		f, slow, addr := handOverFront(t, func() {
			close(hijacked)
			until(func() bool {
				select {
				case <-slowDown:
					return true
				default:
					return f.handing.waiting()
				}
			})
		})
		var once sync.Once
		slow.RegisterOnShutdown(func() { once.Do(func() { close(slowDown) }) })
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /ui/ HTTP/1.1\r\nHost: sluice\r\n\r\n")
		<-hijacked
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- f.shutdown(ctx)
		}()
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the request handed over during the shutdown got no answer: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "served by net/http" {
			t.Fatalf("answer %d %q; want net/http's 200", resp.StatusCode, body)
		}
		if err := <-done; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		// Then the connection ends, as any other at a shutdown.
		if n, err := br.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after the shutdown the connection gave %d bytes, %v; want it closed", n, err)
		}
	})
	t.Run("TooLateGets503", func(t *testing.T) {
		var f *fastFront
		hijacked := make(chan struct{})
		shutDown := make(chan struct{})
		f, _, addr := handOverFront(t, func() {
			close(hijacked)
			<-shutDown
		})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET /ui/ HTTP/1.1\r\nHost: sluice\r\n\r\n")
		<-hijacked
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := f.shutdown(ctx); err == nil {
			t.Error("shutdown returned no error with a hand-over left over")
		}
		close(shutDown)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("the request handed over after the shutdown's time got no answer: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !resp.Close || !strings.Contains(string(body), `"code":"unavailable"`) {
			t.Fatalf("answer %d %q (Connection: close %v); want a 503 unavailable, closing", resp.StatusCode, body, resp.Close)
		}
	})
}
