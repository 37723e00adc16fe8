package proxy_test

import (
	"bufio"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

func TestProxy_InFlight(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 300}}})
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), "")})
		if n := p.InFlight("chat:v1"); n != 0 {
			t.Fatalf("InFlight before = %d", n)
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() { chat(t, url, "chat") })
		}
		waitFor(t, "3 requests in flight", func() bool { return p.InFlight("chat:v1") == 3 })
		// What a replica publishes for the fleet's rollback drains.
		if m := p.InFlightVersions(); len(m) != 1 || m["chat:v1"] != 3 {
			t.Fatalf("InFlightVersions during the requests = %v, want chat:v1: 3", m)
		}
		wg.Wait()
		waitFor(t, "0 in flight", func() bool { return p.InFlight("chat:v1") == 0 })
		if m := p.InFlightVersions(); len(m) != 0 {
			t.Fatalf("InFlightVersions after = %v, want none", m)
		}
		if n := p.InFlight("chat:nope"); n != 0 {
			t.Fatalf("InFlight(unknown) = %d", n)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		// 20 tokens at 40 per second: the stream lasts about half a second
		// after its first chunk, and the request is in flight until its end.
		be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 40, OutputTokens: fakellm.TokenCount{Mean: 20}}})
		p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), "")})
		resp, err := http.Post(url+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		if n := p.InFlight("chat:v1"); n != 1 {
			t.Fatalf("InFlight during the stream = %d, want 1", n)
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil || strings.HasPrefix(line, "data: [DONE]") {
				break
			}
		}
		waitFor(t, "0 in flight after the stream", func() bool { return p.InFlight("chat:v1") == 0 })
	})
	t.Run("Retry", func(t *testing.T) {
		// The version the split chose fails before the first byte; the
		// request moves to stable, and each version's count returns to 0.
		// (A request that names its version is not moved:
		// TestRoute_PinnedRequestNotRetriedOnStable.)
		bad := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1}})
		good := MustBackend(t, fakellm.Config{})
		p, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad.URL(), 0)})
		resp, _ := chat(t, url, "chat")
		if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" {
			t.Fatalf("served by %s, want the stable chat:v1 after the retry", v)
		}
		waitFor(t, "0 in flight", func() bool { return p.InFlight("chat:v1") == 0 && p.InFlight("chat:v2") == 0 })
	})
}
