package bench

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// silentServer accepts connections, reads what is sent and never answers,
// as a gateway that has wedged does. got receives once a request arrived;
// the returned func hangs up every connection.
func silentServer(t *testing.T) (addr string, got <-chan struct{}, hangUp func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 1)
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					select {
					case ch <- struct{}{}:
					default:
					}
				}
			})
		}
	})
	hangUp = func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}
	t.Cleanup(func() { hangUp(); wg.Wait() })
	return ln.Addr().String(), ch, hangUp
}

// A user runs `sluice bench` (the half-saturation cells, or --rate, use the
// open-loop generator) and one gateway stops answering a request, or the
// user presses Ctrl-C (the context is cancelled).
// Now: openLoop waits for its workers with no bound, and a worker blocked
// reading an answer has no deadline and does not watch the context, so the
// run never ends: not at the end of its measured window, not on Ctrl-C
// (signal.NotifyContext in main keeps swallowing further Ctrl-Cs); only
// SIGKILL stops it. closedLoop cuts a stuck exchange after 15 s, wrk after
// its --timeout of 10 s, probe after 10 s.
// Should: openLoop returns soon after its window ends or its context is
// cancelled, counting the stuck exchange as an error.
func TestOpenLoopHangsOnUnansweredRequest(t *testing.T) {
	addr, got, hangUp := silentServer(t)
	rq := &request{addr: addr, path: "/v1/chat/completions", header: "Host: " + addr + "\r\nContent-Type: application/json\r\n",
		userHeader: "X-User-Id", users: 1000, body: []byte(chatBody)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *loadResult, 1)
	go func() { done <- openLoop(ctx, rq, nil, 10, 2, 0, 300*time.Millisecond) }()
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the open loop sent no request")
	}
	cancel() // Ctrl-C
	select {
	case res := <-done:
		t.Logf("returned: requests %d, errors %d, first error %q", res.Requests, res.Errors, res.FirstError)
	case <-time.After(45 * time.Second):
		hangUp() // let the stuck goroutines go
		<-done
		t.Fatal("openLoop did not return 45 s after its 300 ms window ended and its context was cancelled: a request the gateway never answers hangs the run")
	}
}
