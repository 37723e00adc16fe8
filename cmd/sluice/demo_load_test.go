package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestDemoLoadDue pins the load generator's schedule: it sends what is due
// since it started, so a tick that comes late (a busy machine) sends the
// requests of the ticks it missed, where one request per tick of a ticker
// at the rate lost them and the demo's rate fell with the machine's load;
// after a longer stall it sends a tenth of a second's worth, not a burst of
// everything missed.
func TestDemoLoadDue(t *testing.T) {
	cases := []struct {
		elapsed    time.Duration
		rate       int
		issued     int64
		send, next int64
	}{
		{0, 200, 0, 0, 0},
		{10 * time.Millisecond, 200, 0, 2, 2},                     // on time: a tick's worth
		{20 * time.Millisecond, 200, 2, 2, 4},                     //
		{105 * time.Millisecond, 200, 4, 17, 21},                  // late by 85 ms: the missed ticks' requests too
		{time.Second, 200, 200, 0, 200},                           // caught up
		{5 * time.Second, 200, 200, 20, 1000},                     // a 4 s stall: 100 ms' worth, the rest given up
		{5*time.Second + 10*time.Millisecond, 200, 1000, 2, 1002}, // then on schedule again
		{10 * time.Millisecond, 50, 0, 0, 0},                      // below one a tick: none yet
		{20 * time.Millisecond, 50, 0, 1, 1},                      //
	}
	for _, c := range cases {
		send, next := demoLoadDue(c.elapsed, c.rate, c.issued)
		if send != c.send || next != c.next {
			t.Errorf("demoLoadDue(%s, %d, %d) = %d, %d; want %d, %d", c.elapsed, c.rate, c.issued, send, next, c.send, c.next)
		}
	}
}

// TestDemoLoad_KeepsItsConnections runs the demo's load generator against
// a server over loopback and counts the connections it opens: about as
// many as it has requests in flight at most, as it keeps them between
// requests. With the default client, which keeps 2 idle connections to a
// host, most of its requests opened a connection of their own, work the
// demo's share of a busy machine could not spare.
func TestDemoLoad_KeepsItsConnections(t *testing.T) {
	var inFlight, peak, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond) // a simulated version's answer
		inFlight.Add(-1)
		io.WriteString(w, `{}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	var sent, failed atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); demoLoad(ctx, srv.URL, 400, &sent, &failed) }()
	for sent.Load() < 400 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if f := failed.Load(); f > 0 {
		t.Errorf("%d of %d requests failed", f, sent.Load())
	}
	// A connection is back in the pool a moment after its handler
	// returns, so a few more than the peak may open; not most requests.
	if c, p := conns.Load(), peak.Load(); c > 2*p+10 {
		t.Errorf("%d connections opened for %d requests, at most %d in flight: the load generator does not keep its connections", c, sent.Load(), p)
	}
}
