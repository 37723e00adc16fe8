package proxy_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// replicaRoutes returns a routing table holder for model "chat": v1 on the
// endpoints stable (production, label stable) and, when candidate is not
// empty, v2 on it (production), split stablePercent to v1. Every table is
// built with loads.
func replicaRoutes(tb testing.TB, loads *route.Loads, bal route.Balance, stable []string, candidate string, stablePercent float64) *route.Holder {
	tb.Helper()
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("fixture: %v", err)
		}
	}
	_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: stable})
	must(err)
	ws := []sluice.Weight{{Version: "v1", Percent: 100}}
	if candidate != "" {
		_, err = e.RegisterVersion(sluice.Version{Model: "chat", Version: "v2", Stage: sluice.StageProduction, Endpoints: []string{candidate}})
		must(err)
		ws = []sluice.Weight{{Version: "v1", Percent: stablePercent}, {Version: "v2", Percent: 100 - stablePercent}}
	}
	must(e.SetSplit("chat", ws))
	must(e.SetLabel("chat", "stable", "v1"))
	_, err = e.Finish()
	must(err)
	opt := route.NewOptions()
	opt.Loads, opt.Balance = loads, bal
	return route.NewHolder(route.Build(e.Registry(), nil, opt))
}

// inFlight returns the requests in flight to each endpoint, by loads.
func inFlight(loads *route.Loads, eps ...string) []int64 {
	out := make([]int64, len(eps))
	for i, e := range eps {
		out[i] = loads.InFlight(e)
	}
	return out
}

func zero(loads *route.Loads, eps ...string) bool {
	for _, n := range inFlight(loads, eps...) {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestProxy_EndpointInFlight checks that every attempt is counted in flight
// to the endpoint it went to until its answer ends, whatever way it ends,
// so that least_requests never weighs a leaked count.
func TestProxy_EndpointInFlight(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		a := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 300}}})
		b := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 300}}})
		loads := &route.Loads{}
		_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", []string{a.URL(), b.URL()}, "", 100)})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { chat(t, url, "chat") })
		}
		waitFor(t, "4 requests in flight", func() bool { n := inFlight(loads, a.URL(), b.URL()); return n[0]+n[1] == 4 })
		wg.Wait()
		waitFor(t, "0 in flight", func() bool { return zero(loads, a.URL(), b.URL()) })
	})
	t.Run("Stream", func(t *testing.T) {
		be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 40, OutputTokens: fakellm.TokenCount{Mean: 20}}})
		loads := &route.Loads{}
		_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", []string{be.URL()}, "", 100)})
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
		if n := loads.InFlight(be.URL()); n != 1 {
			t.Fatalf("in flight to the endpoint during the stream = %d, want 1", n)
		}
		for {
			line, err := br.ReadString('\n')
			if err != nil || strings.HasPrefix(line, "data: [DONE]") {
				break
			}
		}
		waitFor(t, "0 in flight after the stream", func() bool { return zero(loads, be.URL()) })
	})
	t.Run("HangUp", func(t *testing.T) {
		be := MustBackend(t, fakellm.Config{})
		be.SetHang(true)
		loads := &route.Loads{}
		_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", []string{be.URL()}, "", 100)})
		t.Cleanup(func() { be.SetHang(false) })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions",
				strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		waitFor(t, "the request in flight", func() bool { return loads.InFlight(be.URL()) == 1 })
		cancel()
		<-done
		waitFor(t, "0 in flight after the client hung up", func() bool { return zero(loads, be.URL()) })
	})
	t.Run("Error", func(t *testing.T) {
		be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1}})
		loads := &route.Loads{}
		_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", []string{be.URL()}, "", 100)})
		if resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode < 500 {
			t.Fatalf("status %d, want the backend's failure: %s", resp.StatusCode, body)
		}
		waitFor(t, "0 in flight after the failure", func() bool { return zero(loads, be.URL()) })
	})
	t.Run("Retry", func(t *testing.T) {
		// The split sends the request to v2, which fails; it is retried on
		// v1, which takes its time: the failed attempt's count is back to 0
		// while the retry is in flight.
		bad := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1}})
		good := MustBackend(t, fakellm.Config{})
		good.SetHang(true)
		loads := &route.Loads{}
		_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", []string{good.URL()}, bad.URL(), 0)})
		t.Cleanup(func() { good.SetHang(false) })
		done := make(chan string)
		go func() {
			resp, _ := chat(t, url, "chat")
			done <- resp.Header.Get("X-Model-Version")
		}()
		waitFor(t, "the retry in flight on stable, the failed attempt not", func() bool {
			n := inFlight(loads, good.URL(), bad.URL())
			return n[0] == 1 && n[1] == 0
		})
		good.SetHang(false)
		if v := <-done; v != "chat:v1" {
			t.Fatalf("served by %s, want the stable chat:v1 after the retry", v)
		}
		waitFor(t, "0 in flight", func() bool { return zero(loads, good.URL(), bad.URL()) })
	})
	t.Run("Shadow", func(t *testing.T) {
		// A mirrored request loads the candidate's backend as a live one
		// does, so it counts; it is exported on /metrics too.
		stable := MustBackend(t, fakellm.Config{})
		cand := MustBackend(t, fakellm.Config{})
		cand.SetHang(true)
		loads := &route.Loads{}
		p, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", []string{stable.URL()}, cand.URL(), 100), ShadowQueue: 1, ShadowWorkers: 1})
		t.Cleanup(func() { cand.SetHang(false) })
		p.SetShadow("chat", "chat:v2", 1)
		chat(t, url, "chat")
		waitFor(t, "the mirror in flight", func() bool { n := inFlight(loads, stable.URL(), cand.URL()); return n[0] == 0 && n[1] == 1 })
		got := gatherEndpointInFlight(t, p)
		for k, want := range map[string]float64{"chat,v1," + stable.URL(): 0, "chat,v2," + cand.URL(): 1} {
			if g, ok := got[k]; !ok || g != want {
				t.Errorf("sluice_endpoint_requests_in_flight{%s} = %v (exported: %v), want %v; all: %v", k, g, ok, want, got)
			}
		}
		cand.SetHang(false)
		waitFor(t, "0 in flight after the mirror", func() bool { return zero(loads, stable.URL(), cand.URL()) })
	})
}

// TestProxy_EndpointFailures checks that each attempt's outcome reaches
// its endpoint's Load, which least_requests weighs so that a replica
// failing at once does not draw the traffic: failures in a row add up, an
// answer clears them.
func TestProxy_EndpointFailures(t *testing.T) {
	be := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1}})
	loads := &route.Loads{}
	_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", []string{be.URL()}, "", 100)})
	pinned := `{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`
	for i := range 3 {
		if resp, body := post(t, url, "/v1/chat/completions", pinned); resp.StatusCode < 500 {
			t.Fatalf("status %d, want the backend's failure: %s", resp.StatusCode, body)
		}
		if got := loads.Of(be.URL()).Failures(); got != int64(i+1) {
			t.Fatalf("after %d failures the endpoint counts %d in a row", i+1, got)
		}
	}
	be.SetConfig(fakellm.Config{})
	chat(t, url, "chat:v1")
	if got := loads.Of(be.URL()).Failures(); got != 0 {
		t.Fatalf("after an answer the endpoint counts %d failures in a row, want 0", got)
	}
}

// gatherEndpointInFlight returns sluice_endpoint_requests_in_flight from
// p's collector, by "model,version,endpoint".
func gatherEndpointInFlight(tb testing.TB, p *proxy.Proxy) map[string]float64 {
	tb.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_endpoint_requests_in_flight" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			got[l["model"]+","+l["version"]+","+l["endpoint"]] = m.GetGauge().GetValue()
		}
	}
	return got
}

// TestProxy_EndpointInFlightMetric_Redacted checks that the gauge names an
// endpoint as sluice_endpoint_up does: without its credentials, and two
// endpoints that read alike without them as one series holding both
// counts (two series with the same labels would fail the whole scrape).
func TestProxy_EndpointInFlightMetric_Redacted(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	be.SetHang(true)
	host := strings.TrimPrefix(be.URL(), "http://")
	eps := []string{"http://alice:s3cret@" + host, "http://bob:other@" + host}
	loads := &route.Loads{}
	p, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, "", eps, "", 100)})
	t.Cleanup(func() { be.SetHang(false) }) // before the proxy's cleanup, which waits for its requests
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { chat(t, url, "chat") })
	}
	waitFor(t, "2 requests in flight", func() bool { n := inFlight(loads, eps...); return n[0]+n[1] == 2 })
	got := gatherEndpointInFlight(t, p)
	name := "http://REDACTED@" + host
	if len(got) != 1 || got["chat,v1,"+name] != 2 {
		t.Errorf("exported %v, want one series chat,v1,%s = 2", got, name)
	}
	for k := range got {
		if strings.Contains(k, "s3cret") || strings.Contains(k, "other") {
			t.Errorf("a credential is exported: %s", k)
		}
	}
	be.SetHang(false)
	wg.Wait()
}
