package server_test

import (
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// TestGateway_SlowClients: 100 slow-loris connections (headers trickled a
// byte a second) and a client that asks for a long stream and never reads
// it. The server's header timeout closes the first, the write deadline of
// the request timeout ends the second, and meanwhile other clients are
// served as usual.
func TestGateway_SlowClients(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s header timeout")
	}
	b := MustBackend(t, fakellm.Config{})
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Timeouts.Request = 2 * time.Second }, nil,
		chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))

	// Slow-loris: each connection sends a request line and then one header
	// byte a second, never finishing the headers.
	const loris = 100
	closedAfter := make([]time.Duration, loris)
	var lwg sync.WaitGroup
	start := time.Now()
	for i := 0; i < loris; i++ {
		c, err := net.Dial("tcp", gw.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nX-Slow: ")
			done := make(chan struct{})
			go func() {
				// The server answers 408 or just closes; either way the read
				// ends when it gives up on the headers.
				io.Copy(io.Discard, c)
				close(done)
			}()
			for {
				select {
				case <-done:
					closedAfter[i] = time.Since(start)
					return
				case <-time.After(time.Second):
					if _, err := c.Write([]byte("a")); err != nil {
						<-done
						closedAfter[i] = time.Since(start)
						return
					}
				}
				if time.Since(start) > 30*time.Second {
					return
				}
			}
		}()
	}

	// Slow reader: a long stream, never read.
	slow, err := net.Dial("tcp", gw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.(*net.TCPConn).SetReadBuffer(4096)
	body := `{"model":"chat","stream":true,"max_tokens":200000,"messages":[]}`
	b.SetBehavior("", fakellm.Behavior{OutputTokens: fakellm.TokenCount{Mean: 200000}})
	io.WriteString(slow, "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
	waitFor(t, "the slow reader's request in flight", 5*time.Second, func() bool { return gw.Proxy.InFlight("chat:v1.0.0") == 1 })

	// Meanwhile, ordinary clients.
	var lat []time.Duration
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 200; i++ {
		s := time.Now()
		resp, err := client.Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","max_tokens":8,"messages":[]}`))
		if err != nil {
			t.Fatalf("ordinary client %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ordinary client %d: %d", i, resp.StatusCode)
		}
		lat = append(lat, time.Since(s))
		time.Sleep(20 * time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if p99 := lat[len(lat)*99/100]; p99 > 500*time.Millisecond {
		t.Errorf("ordinary clients' p99 latency %s beside the slow clients", p99)
	}

	// The slow reader's request ends at the request timeout plus the
	// write margin, not when the client decides.
	waitFor(t, "the slow reader's request to end", 10*time.Second, func() bool { return gw.Proxy.InFlight("chat:v1.0.0") == 0 })

	lwg.Wait()
	sort.Slice(closedAfter, func(i, j int) bool { return closedAfter[i] < closedAfter[j] })
	if closedAfter[0] < 9*time.Second || closedAfter[loris-1] > 15*time.Second {
		t.Errorf("slow-loris connections closed between %s and %s, want at the 10 s header timeout", closedAfter[0], closedAfter[loris-1])
	}
	t.Logf("ordinary p50 %s p99 %s; slow-loris closed after %s–%s", lat[len(lat)/2], lat[len(lat)*99/100], closedAfter[0].Round(time.Millisecond), closedAfter[loris-1].Round(time.Millisecond))
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
