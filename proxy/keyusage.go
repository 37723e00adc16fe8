package proxy

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// keyUsage counts each client key's requests and tokens, per model and
// status, for sluice_client_key_requests_total and
// sluice_client_key_tokens_total. It counts in the proxy's record, beside
// the Recorder, rather than in the request log's writer: the log drops
// rows when its buffer is full, which would undercount a key exactly when
// it floods the gateway, and the cost here is one map read and three
// atomic adds (BenchmarkProxy_ServeHTTPKeyed,
// bench/benchstat-keylog.txt).
//
// The label set is bounded: key names come from the config file, models
// from the registry, statuses from HTTP.
type keyUsage struct{ cowMap[keyUsageKey, keyCounts] }

type keyUsageKey struct {
	key, model string
	status     int
}

type keyCounts struct {
	requests, input, output atomic.Int64
}

// add counts o, a client request sent with a key (o.ClientKey set, not a
// retried attempt: its request is counted once, by the attempt that
// answered).
func (u *keyUsage) add(o *sluice.Observation) {
	c := u.get(keyUsageKey{o.ClientKey, o.Model, o.Status})
	c.requests.Add(1)
	if o.InputTokens > 0 {
		c.input.Add(int64(o.InputTokens))
	}
	if o.OutputTokens > 0 {
		c.output.Add(int64(o.OutputTokens))
	}
}

var (
	keyRequestsDesc = prometheus.NewDesc("sluice_client_key_requests_total",
		"Client requests sent with each client key, by model and the HTTP status sent to the client (a failed attempt retried on stable is not counted again).",
		[]string{"key", "model", "code"}, nil)
	keyTokensDesc = prometheus.NewDesc("sluice_client_key_tokens_total",
		"Tokens of the requests sent with each client key, by model and direction (input: the prompt, output: the answer), as the backend's usage reported them.",
		[]string{"key", "model", "direction"}, nil)
)

// collect sends the counters; the tokens are summed over statuses.
func (u *keyUsage) collect(ch chan<- prometheus.Metric) {
	type km struct{ key, model string }
	tokens := map[km][2]int64{}
	for k, c := range u.all() {
		ch <- prometheus.MustNewConstMetric(keyRequestsDesc, prometheus.CounterValue, float64(c.requests.Load()),
			k.key, k.model, strconv.Itoa(k.status))
		t := tokens[km{k.key, k.model}]
		t[0] += c.input.Load()
		t[1] += c.output.Load()
		tokens[km{k.key, k.model}] = t
	}
	for k, t := range tokens {
		ch <- prometheus.MustNewConstMetric(keyTokensDesc, prometheus.CounterValue, float64(t[0]), k.key, k.model, "input")
		ch <- prometheus.MustNewConstMetric(keyTokensDesc, prometheus.CounterValue, float64(t[1]), k.key, k.model, "output")
	}
}
