package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
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
		t.Skip("waits for the 10 s header timeout (skipped under -short)")
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
	lat := ordinaryClients(t, gw.URL(), 20*time.Millisecond, "slow clients")

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

// TestGateway_SlowBody: 60 clients send their headers in time and then
// dribble the body, a byte every 200 ms (half with a Content-Length, half
// chunked), which would take them 13 s. The body must arrive within the
// request timeout (2 s here), after which each gets an error or a closed
// connection; meanwhile other clients are served as usual and no slow body
// reaches a backend.
func TestGateway_SlowBody(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Timeouts.Request = 2 * time.Second }, nil,
		chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	body := `{"model":"chat","messages":[],"max_tokens":8,"user":"slow-body-client"}`
	const slow = 60
	const giveUp = 20 * time.Second
	endedAfter := make([]time.Duration, slow)
	answers := make([]string, slow)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < slow; i++ {
		c, err := net.Dial("tcp", gw.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunked := i%2 == 1
			head := "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\n"
			if chunked {
				head += "Transfer-Encoding: chunked\r\n\r\n"
			} else {
				head += "Content-Length: " + itoa(len(body)) + "\r\n\r\n"
			}
			io.WriteString(c, head)
			done := make(chan struct{})
			go func() {
				// The gateway answers (an error) and closes, or just closes.
				b, _ := io.ReadAll(c)
				answers[i] = string(b)
				close(done)
			}()
			for j := 0; ; j++ {
				select {
				case <-done:
					endedAfter[i] = time.Since(start)
					return
				case <-time.After(200 * time.Millisecond):
				}
				if time.Since(start) > giveUp {
					endedAfter[i] = giveUp
					c.Close()
					<-done
					return
				}
				if j < len(body) {
					part := body[j : j+1]
					if chunked {
						part = "1\r\n" + part + "\r\n"
					}
					if _, err := io.WriteString(c, part); err != nil {
						<-done
						endedAfter[i] = time.Since(start)
						return
					}
				}
			}
		}()
	}

	// Meanwhile, ordinary clients.
	lat := ordinaryClients(t, gw.URL(), 10*time.Millisecond, "slow bodies")

	wg.Wait()
	sorted := append([]time.Duration(nil), endedAfter...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	if sorted[0] < 1500*time.Millisecond || sorted[slow-1] > 5*time.Second {
		t.Errorf("slow-body requests ended between %s and %s, want at the 2 s request timeout (a body sent in full takes 13 s)", sorted[0], sorted[slow-1])
	}
	answered := 0
	for i, a := range answers {
		if a == "" {
			continue // closed without an answer
		}
		answered++
		if !strings.HasPrefix(a, "HTTP/1.1 4") || !strings.Contains(a, "request body") {
			t.Errorf("slow-body client %d got %q, want a 4xx error about the request body", i, a)
		}
	}
	// None of them reached a backend: the request log has only the 200
	// ordinary requests.
	waitFor(t, "the request log", 10*time.Second, func() bool {
		counts, err := gw.Store.CountRequests(context.Background(), sluice.RequestQuery{Model: "chat"})
		var n int64
		for _, c := range counts {
			n += c.Count
		}
		return err == nil && n == 200
	})
	t.Logf("%d slow bodies ended after %s–%s (%d with an error answer, the others closed); ordinary p50 %s p99 %s",
		slow, sorted[0].Round(time.Millisecond), sorted[slow-1].Round(time.Millisecond), answered, lat[len(lat)/2], lat[len(lat)*99/100])
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

// ordinaryClients sends 200 short chat requests one after another, pause
// apart, each of which must succeed within the client's 5 s timeout beside
// the misbehaving clients named by beside (a gateway they starved would
// not answer), and returns the latencies in ascending order. Their p99 is
// logged, not asserted: it measures the machine (1.43 s once, on two cores
// shared with other packages' tests), and speed belongs in benchmarks.
func ordinaryClients(t *testing.T, url string, pause time.Duration, beside string) []time.Duration {
	t.Helper()
	var lat []time.Duration
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 200; i++ {
		s := time.Now()
		resp, err := client.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","max_tokens":8,"messages":[]}`))
		if err != nil {
			t.Fatalf("ordinary client %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("ordinary client %d: %d", i, resp.StatusCode)
		}
		lat = append(lat, time.Since(s))
		time.Sleep(pause)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("ordinary clients' p99 latency %s beside the %s", lat[len(lat)*99/100], beside)
	return lat
}
