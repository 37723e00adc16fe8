package bench

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangUpAfterOneServer answers the first request on each connection with a
// 200 and then closes the connection without a "Connection: close" header,
// as a gateway that resets keep-alive connections under load does; ok
// counts the 200s written.
func hangUpAfterOneServer(t *testing.T, ok *atomic.Int64) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				tp := textproto.NewReader(bufio.NewReader(c))
				if _, err := tp.ReadLine(); err != nil {
					return
				}
				h, err := tp.ReadMIMEHeader()
				if err != nil {
					return
				}
				n, _ := strconv.Atoi(h.Get("Content-Length"))
				if _, err := io.CopyN(io.Discard, tp.R, int64(n)); err != nil {
					return
				}
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"); err == nil {
					ok.Add(1)
				}
			})
		}
	})
	return ln.Addr().String()
}

// A user runs `sluice bench` against a gateway that resets some keep-alive
// connections under load (the next request on such a connection fails with
// EOF or a reset). Every request that was answered was answered 200.
// Now: the cell's Throughput is (Requests - Errors) / elapsed, but the
// failed exchanges were never counted in Requests (loadResult.Requests
// counts answers), so each failure is subtracted from the successes a
// second time: here half the exchanges fail and the reported throughput is
// about 0 req/s (it can go negative), while the gateway served thousands
// of 200s per second. The saturation figure, the "throughput vs nginx"
// target and the half-saturation rate are all computed from this number.
// Should: Throughput is the 2xx answers per second of the measured window,
// that is Requests minus the non-2xx answers, divided by the elapsed time.
func TestCellThroughputCountsFailedExchangesTwice(t *testing.T) {
	var ok atomic.Int64
	addr := hangUpAfterOneServer(t, &ok)
	rq := &request{addr: addr, path: "/v1/chat/completions", header: "Host: " + addr + "\r\nContent-Type: application/json\r\n",
		userHeader: "X-User-Id", users: 1000, body: []byte(chatBody)}
	t0 := time.Now()
	res := closedLoop(context.Background(), rq, nil, 4, 100*time.Millisecond, 700*time.Millisecond)
	wall := time.Since(t0)
	served := ok.Load() // 200s written over the whole run, warm-up included
	if served < 10 {
		t.Fatalf("the test server answered only %d requests (errors %d, first %q)", served, res.Errors, res.FirstError)
	}
	c := cell(Chat, Sluice, 4, 0, []round{{res: res}}, "go closed loop")
	t.Logf("server wrote %d 200s in %v; in the %v window: requests %d, errors %d; cell throughput %.0f req/s",
		served, wall, res.Elapsed, res.Requests, res.Errors, c.Throughput)
	// The server's rate over the whole run bounds what the window can show:
	// at most every 200 it wrote, at least a quarter of its average rate
	// (the box is loaded; the bug gives about 0).
	if lo := 0.25 * float64(served) / wall.Seconds(); c.Throughput < lo {
		t.Errorf("cell throughput = %.0f req/s, want at least %.0f: the gateway served %d 200s in %v; failed exchanges are subtracted from answers they were never counted in",
			c.Throughput, lo, served, wall)
	}
	if c.Throughput*res.Elapsed.Seconds() > float64(served) {
		t.Errorf("cell throughput = %.0f req/s over %v is more than the %d 200s served", c.Throughput, res.Elapsed, served)
	}
}
