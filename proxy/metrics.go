package proxy

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// Collector returns the Prometheus collector of the proxy's own counts:
// the shadow counters (sluice_shadow_mirrored_total,
// sluice_shadow_dropped_total, sluice_shadow_completed_total,
// sluice_shadow_skipped_total), the shadow queue length, the requests
// in flight per version (sluice_inflight_requests) and per endpoint of each
// version of the routing table in force
// (sluice_endpoint_requests_in_flight), and each client key's
// requests and tokens (sluice_client_key_requests_total,
// sluice_client_key_tokens_total) and the requests refused for their key
// (sluice_client_key_refused_total; keyusage.go), and the streamed
// requests a version's backend answered whole, which the gateway relayed
// as streams (sluice_stream_whole_answers_total), and the retries of
// failed attempts, sent or refused by the retry budget
// (sluice_retries_total). Register it with the
// Recorder's registry.
func (p *Proxy) Collector() prometheus.Collector { return collector{p} }

var (
	shadowMirroredDesc = prometheus.NewDesc("sluice_shadow_mirrored_total",
		"Requests queued for mirroring to a shadow candidate.", nil, nil)
	shadowDroppedDesc = prometheus.NewDesc("sluice_shadow_dropped_total",
		"Requests chosen for mirroring that were dropped because the shadow queue was full.", nil, nil)
	shadowCompletedDesc = prometheus.NewDesc("sluice_shadow_completed_total",
		"Mirrored requests whose candidate answer was recorded.", nil, nil)
	shadowSkippedDesc = prometheus.NewDesc("sluice_shadow_skipped_total",
		"Mirrored requests not sent or cancelled because the shadow stopped or the candidate was no longer routable.", nil, nil)
	shadowQueueDesc = prometheus.NewDesc("sluice_shadow_queue_length",
		"Mirrored requests waiting for a shadow worker.", nil, nil)
	inflightDesc = prometheus.NewDesc("sluice_inflight_requests",
		"Requests in flight to a version, mirrored ones included.", []string{"model", "version"}, nil)
	endpointInflightDesc = prometheus.NewDesc("sluice_endpoint_requests_in_flight",
		"Requests in flight from this process to a version's backend endpoint, mirrored ones included, as balance: least_requests weighs them. An endpoint shared by several versions counts all their requests under each.",
		[]string{"model", "version", "endpoint"}, nil)
	retriesDesc = prometheus.NewDesc("sluice_retries_total",
		"Retries of requests to a model's failed attempts: to=\"stable\" (the stable version) or \"endpoint\" (another endpoint of the same version, after a refused connection or a refusal for load); outcome=\"sent\", or \"budget_exhausted\" when the retry budget (retries) had none left and the failure was the answer.",
		[]string{"model", "to", "outcome"}, nil)
	wholeStreamsDesc = prometheus.NewDesc("sluice_stream_whole_answers_total",
		"Streamed requests (\"stream\": true) a version's backend answered with one whole answer (it, or a proxy in front of it, ignores \"stream\"), which the gateway relayed to the client as a stream.",
		[]string{"model", "version"}, nil)
)

type collector struct{ p *Proxy }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{shadowMirroredDesc, shadowDroppedDesc, shadowCompletedDesc, shadowSkippedDesc, shadowQueueDesc, inflightDesc, endpointInflightDesc, wholeStreamsDesc, retriesDesc, keyRefusedDesc, keyRequestsDesc, keyTokensDesc, keyEstimatedDesc} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.ShadowStats()
	ch <- prometheus.MustNewConstMetric(shadowMirroredDesc, prometheus.CounterValue, float64(s.Mirrored))
	ch <- prometheus.MustNewConstMetric(shadowDroppedDesc, prometheus.CounterValue, float64(s.Dropped))
	ch <- prometheus.MustNewConstMetric(shadowCompletedDesc, prometheus.CounterValue, float64(s.Completed))
	ch <- prometheus.MustNewConstMetric(shadowSkippedDesc, prometheus.CounterValue, float64(s.Skipped))
	ch <- prometheus.MustNewConstMetric(shadowQueueDesc, prometheus.GaugeValue, float64(s.Queued))
	for id, n := range c.p.inflight.All() {
		model, version, ok := sluice.SplitFullID(id)
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(inflightDesc, prometheus.GaugeValue, float64(n.Load()), model, version)
	}
	for id, n := range c.p.wholeStreams.All() {
		if model, version, ok := sluice.SplitFullID(id); ok {
			ch <- prometheus.MustNewConstMetric(wholeStreamsDesc, prometheus.CounterValue, float64(n.Load()), model, version)
		}
	}
	for model, r := range c.p.retryStats.All() {
		for _, m := range []struct {
			to, outcome string
			n           *atomic.Int64
		}{{"stable", "sent", &r.stable}, {"stable", "budget_exhausted", &r.stableRefused}, {"endpoint", "sent", &r.endpoint}, {"endpoint", "budget_exhausted", &r.endpointRefused}} {
			ch <- prometheus.MustNewConstMetric(retriesDesc, prometheus.CounterValue, float64(m.n.Load()), model, m.to, m.outcome)
		}
	}
	c.collectEndpoints(ch)
	c.p.keyUsage.collect(ch)
}

// collectEndpoints exports sluice_endpoint_requests_in_flight for each
// endpoint of each version of the routing table in force, the endpoint
// named as sluice_endpoint_up names it (RedactedEndpoint): endpoints of a
// version that read alike without their credentials are one series, the
// sum of their counts (two series with the same labels fail the whole
// scrape), and an endpoint listed twice counts once.
func (c collector) collectEndpoints(ch chan<- prometheus.Metric) {
	if c.p.opt.Routes == nil {
		return
	}
	for t := range c.p.opt.Routes.Load().Targets() {
		sum := make(map[string]int64, len(t.Endpoints))
		var names []string
		for i, e := range t.Endpoints {
			if t.Index(e) != i {
				continue // listed twice
			}
			name := RedactedEndpoint(e)
			if _, seen := sum[name]; !seen {
				names = append(names, name)
			}
			sum[name] += t.Load(i).InFlight()
		}
		for _, name := range names {
			ch <- prometheus.MustNewConstMetric(endpointInflightDesc, prometheus.GaugeValue, float64(sum[name]), t.Model, t.Version, name)
		}
	}
}
