package proxy_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// refusedURL returns the base URL of a loopback port nothing listens on:
// a connection to it is refused.
func refusedURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// What the user does: runs a version on two replicas of its backend, one
// of which dies (its port refuses connections), and sends requests before
// the health checks have found it down.
// What must happen: every request is answered by the live replica of the
// same version, as nginx's proxy_next_upstream would send it there; the
// request log keeps the refused attempt (marked retried) and the answer,
// both of that version, by the route the request was decided by. A label
// (the caller named the version) is sent on too: the version is the same.
// Before, each request that drew the dead replica got a 502 unless a
// stable version of another name could take it.
func TestProxy_RefusedEndpointTriesAnother(t *testing.T) {
	for _, tc := range []struct {
		name      string
		transport http.RoundTripper
	}{
		{"OwnClient", nil},
		{"Transport", http.DefaultTransport.(*http.Transport).Clone()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dead := refusedURL(t)
			live := MustBackend(t, fakellm.Config{})
			loads := &route.Loads{}
			log := &spyLog{}
			_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, loads, route.BalanceRoundRobin, []string{dead, live.URL()}, "", 100), Log: log, Transport: tc.transport})
			const n = 10
			for i := range n {
				model := "chat"
				if i%2 == 1 {
					model = "chat@stable" // a label: the caller named the version
				}
				resp, body := chat(t, url, model) // fails the test unless 200
				if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" {
					t.Fatalf("request %d answered by %q, want chat:v1: %s", i, v, body)
				}
			}
			rows := log.all()
			var retried, answers int
			for _, o := range rows {
				if o.Version != "v1" {
					t.Errorf("row %+v: version %s, want v1 (another endpoint of the same version)", o, o.Version)
				}
				if o.Retried {
					retried++
					if o.ErrorClass != "connect" || o.Route == "retry" {
						t.Errorf("refused attempt's row %+v: want error class connect, and the request's route", o)
					}
					continue
				}
				answers++
				if o.ErrorClass != "" || o.Route == "retry" {
					t.Errorf("answer's row %+v: want no error, by the request's route", o)
				}
			}
			// Round-robin sends every second request to the dead replica first.
			if answers != n || retried != n/2 {
				t.Errorf("request log: %d answers and %d refused attempts, want %d and %d: %+v", answers, retried, n, n/2, rows)
			}
			if got := loads.InFlight(dead) + loads.InFlight(live.URL()); got != 0 {
				t.Errorf("%d requests still counted in flight after every answer", got)
			}
		})
	}
	t.Run("NoOtherEndpoint", func(t *testing.T) {
		// One replica, refused: the client gets the version's 502 at once,
		// naming it, as before.
		dead := refusedURL(t)
		_, url := MustProxy(t, proxy.Options{Routes: replicaRoutes(t, &route.Loads{}, "", []string{dead}, "", 100)})
		resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "chat:v1") {
			t.Errorf("status %d, %s; want 502 naming chat:v1", resp.StatusCode, body)
		}
	})
	t.Run("BothRefusedThenStable", func(t *testing.T) {
		// The candidate's two replicas both refuse: the request is tried
		// on the other, then on stable, which answers.
		deadA, deadB := refusedURL(t), refusedURL(t)
		stable := MustBackend(t, fakellm.Config{})
		log := &spyLog{}
		_, url := MustProxy(t, proxy.Options{Routes: splitRoutesEndpoints(t, []string{stable.URL()}, []string{deadA, deadB}, 0), Log: log})
		resp, body := chat(t, url, "chat")
		if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" {
			t.Fatalf("answered by %q, want stable chat:v1: %s", v, body)
		}
		rows := log.all()
		if len(rows) != 3 || rows[0].Version != "v2" || !rows[0].Retried || rows[1].Version != "v2" || !rows[1].Retried || rows[2].Version != "v1" || rows[2].Route != "retry" {
			t.Errorf("request log %+v, want v2 refused twice (retried), then v1 by route retry", rows)
		}
	})
}
