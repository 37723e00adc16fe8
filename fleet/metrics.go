package fleet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the sluice_fleet_* metrics of a Windows.
type metrics struct {
	flushErrors, readErrors, decodeErrors prometheus.Counter
	flushedObs, flushedBytes, ingestedObs prometheus.Counter
	lost                                  *prometheus.CounterVec
	all                                   []prometheus.Collector
}

func newMetrics(w *Windows) *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &metrics{
		flushErrors:  counter("sluice_fleet_flush_errors_total", "Writes of this replica's observations for the fleet-wide analysis that failed (they are retried; see sluice_fleet_flush_lag_seconds)."),
		readErrors:   counter("sluice_fleet_read_errors_total", "Reads of the other replicas' observations that failed."),
		decodeErrors: counter("sluice_fleet_decode_errors_total", "Rows of other replicas' observations that did not decode (from an incompatible sluice) and were skipped."),
		flushedObs:   counter("sluice_fleet_flushed_observations_total", "Observations this replica wrote for the fleet-wide analysis."),
		flushedBytes: counter("sluice_fleet_flushed_bytes_total", "Bytes of encoded observations this replica wrote for the fleet-wide analysis."),
		ingestedObs:  counter("sluice_fleet_ingested_observations_total", "Observations of other replicas read into this replica's fleet-wide windows."),
		lost: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_fleet_lost_observations_total",
			Help: "Observations of this replica that no other replica will see: overwritten in the window before a flush took them, or dropped from a full queue of flushes while the store was away (overflow)."},
			[]string{"reason"}),
	}
	m.lost.WithLabelValues("overwritten")
	m.lost.WithLabelValues("overflow")
	gauge := func(name, help string, fn func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn)
	}
	m.all = []prometheus.Collector{
		m.flushErrors, m.readErrors, m.decodeErrors, m.flushedObs, m.flushedBytes, m.ingestedObs, m.lost,
		gauge("sluice_fleet_flush_lag_seconds", "Age of the oldest flush of this replica's observations still waiting to be written; 0 when every flush is written.", func() float64 {
			if at := w.oldestPending.Load(); at != 0 {
				return time.Since(time.Unix(0, at)).Seconds()
			}
			return 0
		}),
		gauge("sluice_fleet_read_age_seconds", "Time since this replica last read the other replicas' observations; -1 before the first read.", func() float64 {
			if at := w.lastPull.Load(); at != 0 {
				return time.Since(time.Unix(0, at)).Seconds()
			}
			return -1
		}),
	}
	return m
}

// Describe implements prometheus.Collector.
func (w *Windows) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range w.m.all {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (w *Windows) Collect(ch chan<- prometheus.Metric) {
	for _, c := range w.m.all {
		c.Collect(ch)
	}
}
