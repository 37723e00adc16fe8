package proxy_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// TestKeySet_LimitShares: the keys with a limit (a rate, or tokens a
// minute) have this replica's share of them, the even 1/n or the one
// weighted by demand, and LimitShareCollector exports it per key at each
// scrape from the KeySet in force; a key without a limit has none, nor
// does any key on a replica alone or in a KeySet never given a share.
func TestKeySet_LimitShares(t *testing.T) {
	ks, err := proxy.NewKeySet([]proxy.ClientKey{
		{Name: "rate", Hash: sluice.HashSecret("sk-share-rate-0123456789"), RateLimit: 10, Burst: 2},
		{Name: "tokens", Hash: sluice.HashSecret("sk-share-tokens-0123456789"), TokensPerMinute: 1000},
		{Name: "free", Hash: sluice.HashSecret("sk-share-free-0123456789")},
	}, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var inForce *proxy.KeySet
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(proxy.LimitShareCollector(func() *proxy.KeySet { return inForce }))
	scrape := func() []proxy.KeyLimitShare {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []proxy.KeyLimitShare
		for _, mf := range mfs {
			if mf.GetName() != "sluice_client_key_limit_share" || mf.GetType() != dto.MetricType_GAUGE {
				t.Fatalf("gathered %s of type %v", mf.GetName(), mf.GetType())
			}
			for _, m := range mf.GetMetric() {
				out = append(out, proxy.KeyLimitShare{Name: m.GetLabel()[0].GetValue(), Share: m.GetGauge().GetValue()})
			}
		}
		slices.SortFunc(out, func(a, b proxy.KeyLimitShare) int { return strings.Compare(a.Name, b.Name) })
		return out
	}
	check := func(what string, want []proxy.KeyLimitShare) {
		t.Helper()
		if got := ks.LimitShares(); !slices.Equal(got, want) {
			t.Errorf("%s: LimitShares() = %v, want %v", what, got, want)
		}
		if got := scrape(); !slices.Equal(got, want) {
			t.Errorf("%s: /metrics gives %v, want %v", what, got, want)
		}
	}
	check("no KeySet in force", nil)
	inForce = ks
	check("never given a share", nil)
	share := proxy.NewKeyShare()
	ks.SetShare(share)
	check("a replica alone", nil)
	share.Set(4)
	check("4 replicas, no demand", []proxy.KeyLimitShare{{Name: "rate", Share: 0.25}, {Name: "tokens", Share: 0.25}})
	share.SetWeighted(2, map[string]float64{"rate": 0.9, "free": 0.7})
	check("2 replicas, rate's demand weighed", []proxy.KeyLimitShare{{Name: "rate", Share: 0.9}, {Name: "tokens", Share: 0.5}})
	share.Set(1)
	check("alone again", nil)
}
