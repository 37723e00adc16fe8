package fleet

import (
	"context"
	"time"

	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/postgres"
)

// Pull reads the rows the other replicas wrote since the last Pull (all the
// table holds, the first time) into the Recorder of their observations.
// Each replica's flushes are numbered and commit in order, so a row whose
// flush was read before is skipped; the read starts a little before the
// newest row seen (see overlap), so a flush that committed late is not
// missed. A row that does not decode (from an incompatible build) is
// skipped and counted in sluice_fleet_decode_errors_total.
func (w *Windows) Pull(ctx context.Context) error {
	w.pullMu.Lock()
	defer w.pullMu.Unlock()
	prev := make(map[string]int64, len(w.last))
	for r, m := range w.last {
		prev[r] = m.seq
	}
	var newest time.Time
	now := time.Now()
	first := w.lastPull.Load() == 0
	if first {
		w.raiseCuts(now) // the first read: the cuts where the table is still whole
	}
	ingested := map[seriesKey]bool{} // by the first read, to be undone should it fail
	c, cancel := context.WithTimeout(ctx, w.opt.Timeout)
	defer cancel()
	err := w.opt.Store.ObservationBatches(c, w.horizon, w.opt.Replica, prev, func(b postgres.ObservationBatch) error {
		if b.FlushedAt.After(newest) {
			newest = b.FlushedAt
		}
		// Marked as read row by row: should the read break in the middle
		// of a flush, its remaining rows are lost rather than the rows
		// already ingested counted twice.
		if _, known := w.last[b.Replica]; !known {
			w.opt.Logger.Debug("fleet: reading a replica's observations", "replica", b.Replica, "this_replica", w.opt.Replica)
		}
		w.last[b.Replica] = replicaMark{seq: max(w.last[b.Replica].seq, b.Seq), seen: now}
		if b.Seq <= prev[b.Replica] {
			return nil // the store leaves these out; this is a safety net
		}
		err := w.remote.Ingest(observe.Batch{
			Model: b.Model, Version: b.Version, Category: b.Category,
			Observations: b.Observations, Scores: b.Scores, Data: b.Data,
			From: w.cuts[seriesKey{b.Model, b.Version}], // the request log gave what came before (Cut)
		})
		if err != nil {
			w.m.decodeErrors.Inc()
			return nil
		}
		if first {
			ingested[seriesKey{b.Model, b.Version}] = true
		}
		w.m.ingestedObs.Add(float64(b.Observations))
		return nil
	})
	// The rows come in replica order, so a read that failed half way may
	// have missed older rows of other replicas: move on only after a whole
	// read.
	if err == nil && !newest.IsZero() {
		w.horizon = newest.Add(-overlap)
	}
	for r, m := range w.last {
		if now.Sub(m.seen) > w.opt.Retention+time.Minute {
			delete(w.last, r)
			w.opt.Logger.Debug("fleet: a replica's observations stopped", "replica", r, "last_seen", m.seen, "this_replica", w.opt.Replica)
		}
	}
	if err != nil && first {
		// A first read that failed half way is undone, so the next one
		// reads every flush again: it raises the cuts (raiseCuts) past
		// observations this one took from the flushes, which the seed
		// then reads from the request log up to the new cut, counting a
		// poll interval's requests twice. Before the first read the
		// other replicas' windows hold nothing else (the seed waits for
		// Pulled).
		for k := range ingested {
			w.remote.Forget(k.model, k.version)
		}
		clear(w.last)
	}
	if err != nil {
		w.m.readErrors.Inc()
		if !w.pullFailing {
			w.opt.Logger.Warn("cannot read the other replicas' observations; the fleet-wide analysis goes on with what it has", "err", err)
		}
		w.pullFailing = true
		return err
	}
	if w.pullFailing {
		w.opt.Logger.Info("reading the other replicas' observations works again")
		w.pullFailing = false
	}
	if w.lastPull.Swap(now.UnixNano()) == 0 {
		close(w.pulled)
	}
	return nil
}
