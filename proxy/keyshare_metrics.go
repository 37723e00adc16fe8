package proxy

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

var keyLimitShareDesc = prometheus.NewDesc("sluice_client_key_limit_share",
	"This replica's share (0 to 1) of the limits (rate_limit, burst, tokens_per_minute) of each client key that has one, when several live replicas share them: each enforces its share, weighted by where the key's requests arrive (an even 1/n for a key with none), so the fleet allows the key about its limits in all. What GET /admin/v1/keys gives as limit_share. Absent for a key without a limit, and on a replica alone (the whole limits).",
	[]string{"key"}, nil)

// KeyLimitShare is this replica's share of the limits of one client key.
type KeyLimitShare struct {
	Name string
	// Share is between 0 (exclusive) and 1: see KeyShare.Share.
	Share float64
}

// LimitShares returns this replica's share of the limits of each key of
// ks that has a limit (rate_limit or tokens_per_minute), by name, when
// more than one replica share them (KeySet.SetShare); nil for a replica
// alone, a KeySet never given a share, or a nil one. It reads the
// shares' lock, not the request path's words: call it off that path.
func (ks *KeySet) LimitShares() []KeyLimitShare {
	if ks == nil {
		return nil
	}
	var out []KeyLimitShare
	seen := map[string]bool{}
	for _, k := range ks.byHash {
		if k.token || (k.interval <= 0 && k.tokenCost <= 0) || seen[k.name] || k.share.replicas() < 2 {
			continue
		}
		seen[k.name] = true
		out = append(out, KeyLimitShare{Name: k.name, Share: k.share.Share(k.name)})
	}
	slices.SortFunc(out, func(a, b KeyLimitShare) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// LimitShareCollector returns the Prometheus collector of this replica's
// share of the client keys' limits: sluice_client_key_limit_share per key
// with a limit of the KeySet keys returns at each scrape (the one in
// force: a reload replaces it), read then, so the gauge costs the request
// path nothing. A replica alone, or a KeySet without limits, exports
// nothing.
func LimitShareCollector(keys func() *KeySet) prometheus.Collector {
	return limitShareCollector{keys}
}

type limitShareCollector struct{ keys func() *KeySet }

func (c limitShareCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keyLimitShareDesc }

func (c limitShareCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.keys().LimitShares() {
		ch <- prometheus.MustNewConstMetric(keyLimitShareDesc, prometheus.GaugeValue, s.Share, s.Name)
	}
}
