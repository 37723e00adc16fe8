package proxy_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

func TestProxy_Collector(t *testing.T) {
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{})
	cand.SetHang(true)
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL(), cand.URL()), ShadowQueue: 1, ShadowWorkers: 1})
	p.SetShadow("chat", "chat:v2", 1)
	// The first request's mirror must reach the one worker (and hang
	// there) before the others are sent: sent at once, they could fill the
	// queue of one before the worker took the first from it, and a fourth
	// would be dropped (CI saw 4 dropped, 1 mirrored, an empty queue).
	chat(t, url, "chat")
	waitFor(t, "the first mirror in flight", func() bool { return p.InFlight("chat:v2") == 1 })
	// Then one mirror waits in the queue and three are dropped.
	for range 4 {
		chat(t, url, "chat")
	}
	waitFor(t, "the mirror in flight", func() bool { return p.InFlight("chat:v2") == 1 && p.InFlight("chat:v1") == 0 })
	reg := prometheus.NewRegistry()
	reg.MustRegister(p.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	for name, v := range map[string]float64{
		"sluice_shadow_dropped_total":                    3,
		"sluice_shadow_mirrored_total":                   2,
		"sluice_shadow_queue_length":                     1,
		"sluice_inflight_requests,model=chat,version=v1": 0,
		"sluice_inflight_requests,model=chat,version=v2": 1,
	} {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (exported: %v), want %v", name, g, ok, v)
		}
	}
	if s := p.ShadowStats(); s.Dropped != 3 {
		t.Fatalf("ShadowStats().Dropped = %d", s.Dropped)
	}
}
