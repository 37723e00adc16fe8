package server

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// socketPair returns two connected local sockets as net.Conns (which, unlike
// net.Pipe's, can be peeked at).
func socketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// More waiting requests than one tick peeks at: every one whose client
// left is cancelled within a few ticks, and none whose client stayed.
func TestHangups_ManyWaiting(t *testing.T) {
	var h hangups
	const n = 2*maxPeeks + 100
	ws := make([]*watched, n)
	ctxs := make([]context.Context, n)
	for i := range ws {
		server, client := socketPair(t)
		ctx, cancel := context.WithCancelCause(context.Background())
		ws[i], ctxs[i] = &watched{conn: server, cancel: cancel}, ctx
		h.add(ws[i])
		if i%2 == 0 {
			client.Close()
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := 0
		for i := 0; i < n; i += 2 {
			if ctxs[i].Err() == nil {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests whose client left are not cancelled after 2 s", left, n/2+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 1; i < n; i += 2 {
		if ctxs[i].Err() != nil {
			t.Fatalf("request %d was cancelled though its client is there", i)
		}
	}
	for _, w := range ws {
		h.remove(w)
	}
}

// A watched slot reused by the next request is never cancelled for the
// request before it (the peek runs outside the lock); run with -race.
func TestHangups_ReuseNeverCancelsTheNextRequest(t *testing.T) {
	var h hangups
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &watched{}
			end := time.Now().Add(600 * time.Millisecond)
			for k := 0; time.Now().Before(end); k++ {
				server, client := socketPair(t)
				ctx, cancel := context.WithCancelCause(context.Background())
				w.conn, w.cancel = server, cancel
				w.gone.Store(false)
				h.add(w)
				gone := k%2 == 0
				if gone {
					client.Close()
				}
				time.Sleep(time.Duration(k%3) * 60 * time.Millisecond)
				h.remove(w)
				if !gone && ctx.Err() != nil {
					t.Errorf("a request whose client stayed was cancelled")
				}
				cancel(nil)
				w.conn, w.cancel = nil, nil
				server.Close()
				client.Close()
			}
		}()
	}
	wg.Wait()
}

// The exact interleaving: the watcher peeks at request A's connection (its
// client gone), A ends and request B takes the same slot before the
// watcher acts: B must not be cancelled.
func TestHangups_SlotReusedBetweenPeekAndCancel(t *testing.T) {
	peeked, swapped := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h := hangups{afterPeek: func() {
		once.Do(func() {
			close(peeked)
			<-swapped
		})
	}}
	w := &watched{}
	serverA, clientA := socketPair(t)
	_, cancelA := context.WithCancelCause(context.Background())
	w.conn, w.cancel = serverA, cancelA
	h.add(w)
	h.mu.Lock()
	w.since = time.Now().Add(-time.Second)
	h.mu.Unlock()
	clientA.Close()
	<-peeked
	h.remove(w)
	serverB, _ := socketPair(t)
	ctxB, cancelB := context.WithCancelCause(context.Background())
	w.conn, w.cancel = serverB, cancelB
	h.add(w)
	close(swapped)
	time.Sleep(50 * time.Millisecond)
	if ctxB.Err() != nil {
		t.Fatal("request B was cancelled for request A's client leaving")
	}
	h.remove(w)
}
