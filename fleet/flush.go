package fleet

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/postgres"
)

// Flush takes what the local Recorder recorded since the last flush and
// writes it, after any earlier flushes still waiting, in order. A flush the
// store refuses waits for the next call; beyond Options.MaxPending waiting
// flushes the oldest is dropped and its observations counted in
// sluice_fleet_lost_observations_total{reason="overflow"}. Each write is
// bounded by Options.Timeout.
func (w *Windows) Flush(ctx context.Context) error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	if bs := w.cursor.Take(); len(bs) > 0 {
		w.seq++
		f := flush{at: time.Now(), rows: make([]postgres.ObservationBatch, len(bs))}
		var overwritten int64
		for i, b := range bs {
			f.rows[i] = postgres.ObservationBatch{
				Replica: w.opt.Replica, Seq: w.seq,
				Model: b.Model, Version: b.Version, Category: b.Category,
				Observations: b.Observations, Scores: b.Scores, Data: b.Data,
			}
			f.observations += b.Observations
			overwritten += b.Overwritten
		}
		w.m.lost.WithLabelValues("overwritten").Add(float64(overwritten))
		w.pending = append(w.pending, f)
	}
	for len(w.pending) > w.opt.MaxPending {
		w.m.lost.WithLabelValues("overflow").Add(float64(w.pending[0].observations))
		w.pending[0] = flush{}
		w.pending = w.pending[1:]
	}
	w.notePending()
	for len(w.pending) > 0 {
		f := w.pending[0]
		c, cancel := context.WithTimeout(ctx, w.opt.Timeout)
		err := w.opt.Store.PutObservationBatches(c, f.rows)
		cancel()
		if err != nil {
			w.m.flushErrors.Inc()
			if w.opt.WriteFailed != nil {
				w.opt.WriteFailed()
			}
			if !w.failing {
				w.opt.Logger.Warn("cannot write this replica's observations for the fleet-wide analysis; keeping them to retry", "pending_flushes", len(w.pending), "err", err)
			}
			w.failing = true
			return err
		}
		var size int
		for _, r := range f.rows {
			size += len(r.Data)
		}
		w.m.flushedObs.Add(float64(f.observations))
		w.m.flushedBytes.Add(float64(size))
		w.pending[0] = flush{}
		w.pending = w.pending[1:]
		w.notePending()
	}
	if w.failing {
		w.opt.Logger.Info("writing this replica's observations for the fleet-wide analysis works again")
		w.failing = false
	}
	return nil
}

// notePending publishes the age of the oldest waiting flush for the lag
// gauge, which a scrape reads without waiting for a write in progress.
func (w *Windows) notePending() {
	if len(w.pending) == 0 {
		w.oldestPending.Store(0)
		return
	}
	w.oldestPending.Store(w.pending[0].at.UnixNano())
}
