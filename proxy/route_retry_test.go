package proxy_test

import (
	"net/http"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// splitRoutes: chat split v1=stablePercent, v2 the rest, stable label on
// v1, canary label on v2, so v2 is addressable by pin, label and force
// header.
func splitRoutes(tb testing.TB, stable, candidate string, stablePercent float64) *route.Holder {
	tb.Helper()
	return splitRoutesEndpoints(tb, []string{stable}, []string{candidate}, stablePercent)
}

// splitRoutesEndpoints is splitRoutes with each version on its list of
// endpoints.
func splitRoutesEndpoints(tb testing.TB, stable, candidate []string, stablePercent float64) *route.Holder {
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
	_, err = e.RegisterVersion(sluice.Version{Model: "chat", Version: "v2", Stage: sluice.StageProduction, Endpoints: candidate})
	must(err)
	must(e.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: stablePercent}, {Version: "v2", Percent: 100 - stablePercent}}))
	must(e.SetLabel("chat", "stable", "v1"))
	must(e.SetLabel("chat", "canary", "v2"))
	_, err = e.Finish()
	must(err)
	return route.NewHolder(route.Build(e.Registry(), nil, route.NewOptions()))
}

// TestRoute_PinnedRequestNotRetriedOnStable: README ("Outlier
// ejection"): "A backend that hangs answers a pinned request with 504
// upstream_timeout naming the version ...; a split request is retried on
// stable", and the Ejector's doc: "Pins, labels and rules still reach an
// ejected version (the caller asked for it)". A request that named its
// version (pin, label, force header) must be answered by that version or
// fail naming it; it got stable's answer (200, X-Model-Version chat:v1).
func TestRoute_PinnedRequestNotRetriedOnStable(t *testing.T) {
	bad := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{ErrorRate: 1}})
	good := MustBackend(t, fakellm.Config{})
	_, url := MustProxy(t, proxy.Options{
		Routes:       splitRoutes(t, good.URL(), bad.URL(), 95),
		ForceAllowed: func(*http.Request) bool { return true },
	})
	for _, tc := range []struct {
		name, model string
		hdr         []string
	}{
		{"Pin", "chat:v2", nil},
		{"Label", "chat@canary", nil},
		{"Force", "chat", []string{"X-Sluice-Version", "v2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, url, "/v1/chat/completions", `{"model":"`+tc.model+`","messages":[{"role":"user","content":"hi"}]}`, tc.hdr...)
			if v := resp.Header.Get("X-Model-Version"); v != "chat:v2" || resp.StatusCode < 500 {
				t.Errorf("%s with chat:v2 failing: status %d answered by %q, want the 5xx of chat:v2 (the caller asked for that version); body %s", tc.model, resp.StatusCode, v, body)
			}
		})
	}
}
