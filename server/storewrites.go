package server

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// The writes to the store a gateway makes on its own, without a caller to
// tell of their failure: the `what` label of
// sluice_store_write_errors_total. An admin API call whose write fails is
// told so in its answer, and is counted under registry too.
const (
	whatRequestLog = "request_log"        // the request log's batches (observe.RequestLog)
	whatRegistry   = "registry"           // rollout state and its audit, any change to the registry (control.Service.Do)
	whatFleetObs   = "fleet_observations" // this replica's observations for the fleet-wide analysis (fleet.Windows)
	whatPairs      = "shadow_pairs"       // shadow answer pairs for the fleet (fleet.Pairs)
	whatBeat       = "replica_beat"       // the replica's beat: its requests in flight, its demand (fleet.Drain)
	whatKeyUse     = "key_last_use"       // a stored client key's last use (touchKey)
	whatGrades     = "judge_grades"       // the LLM judge's grades (newJudge)
)

// storeWrites counts, in one metric, the store writes that failed, by what
// was written, so that one alert (SluiceStoreWritesFailing) sees a store
// that cannot be written whatever stopped: on SQLite the request log and
// the rollout controller write; on PostgreSQL the fleet's flushes and
// beats too. Each series exists from the start at 0, so that increase()
// sees the first failure.
type storeWrites struct {
	desc   *prometheus.Desc
	counts map[string]*atomic.Int64
	// requestLog reads the request log's own count of failed writes,
	// which sluice_request_log_append_errors_total serves too.
	requestLog func() int64
}

func newStoreWrites(requestLog func() int64) *storeWrites {
	w := &storeWrites{
		desc: prometheus.NewDesc("sluice_store_write_errors_total",
			"Writes to the store the gateway makes on its own that failed, by what was written (request_log, registry: rollout state and audit, fleet_observations, shadow_pairs, replica_beat, key_last_use, judge_grades).",
			[]string{"what"}, nil),
		counts:     map[string]*atomic.Int64{},
		requestLog: requestLog,
	}
	for _, what := range []string{whatRegistry, whatFleetObs, whatPairs, whatBeat, whatKeyUse, whatGrades} {
		w.counts[what] = new(atomic.Int64)
	}
	return w
}

// failed returns the function that counts a failed write of what.
func (w *storeWrites) failed(what string) func() {
	c := w.counts[what]
	return func() { c.Add(1) }
}

// total is how many writes failed, whatever was written.
func (w *storeWrites) total() int64 {
	n := w.requestLog()
	for _, c := range w.counts {
		n += c.Load()
	}
	return n
}

// Describe implements prometheus.Collector.
func (w *storeWrites) Describe(ch chan<- *prometheus.Desc) { ch <- w.desc }

// Collect implements prometheus.Collector.
func (w *storeWrites) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(w.desc, prometheus.CounterValue, float64(w.requestLog()), whatRequestLog)
	for what, c := range w.counts {
		ch <- prometheus.MustNewConstMetric(w.desc, prometheus.CounterValue, float64(c.Load()), what)
	}
}
