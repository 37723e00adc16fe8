package fleet

import (
	"time"

	"github.com/sluicehq/sluice"
)

// Retention is how long the table keeps a flush (Options.Retention): how
// far back the fleet's flushes reach, the others' and a former self's.
func (w *Windows) Retention() time.Duration { return w.opt.Retention }

// SeedMargin is Options.SeedMargin: a replica that starts cuts its
// versions at Retention less this before now.
func (w *Windows) SeedMargin() time.Duration { return w.opt.SeedMargin }

// Cut has Pull leave out, from now on, the observations of model's version
// that arrived before at (and their heuristic scores): the replica reads
// those from the request log instead (Seed), where every replica's rows
// are kept for longer than the table keeps flushes. A replica that starts
// while a rollout has been comparing its versions for longer than
// Retention calls it before Run, for the baseline and the candidate, with
// at inside what the table still holds, then seeds the rows before at:
// the two parts meet at at, by each attempt's time (Observation.At, when
// it was sent), which a flush and the request log's row carry alike, so
// an attempt is counted once
// whichever flush holds it (a long one flushed after at, or a flush older
// than at that no replica has pruned yet). at is taken to the
// microsecond, as PostgreSQL keeps the request log's times.
//
// The first read that succeeds moves a cut that the table may no longer
// hold whole later (raiseCuts): a read that came later than SeedMargin
// after the cut was planned (the store unreachable from this replica
// meanwhile) finds the flushes of the requests just after it pruned by the
// other replicas, so a seed must read the request log up to CutAt once
// Pulled is closed, not up to the cut it gave.
func (w *Windows) Cut(model, version string, at time.Time) {
	w.pullMu.Lock()
	defer w.pullMu.Unlock()
	if w.cuts == nil {
		w.cuts = map[seriesKey]time.Time{}
	}
	at = at.Truncate(time.Microsecond)
	k := seriesKey{model, version}
	if cur, ok := w.cuts[k]; !ok || at.After(cur) {
		w.cuts[k] = at
	}
}

// CutAt returns where Pull begins to take model's version's observations,
// if Cut was called for it: the cut given, or later once the first read
// moved it (raiseCuts).
func (w *Windows) CutAt(model, version string) (time.Time, bool) {
	w.pullMu.Lock()
	defer w.pullMu.Unlock()
	at, ok := w.cuts[seriesKey{model, version}]
	return at, ok
}

// raiseCuts, before a read while none has succeeded yet, moves every cut
// to at least Retention less SeedMargin before now: the table holds the
// flushes written since Retention ago (the replicas prune what is older),
// and a request is flushed after it arrives, so those from there on are
// all still held. Those between the cut planned at the start and there
// may be pruned already; the request log gives them instead. The other
// replicas' prune does not wait for this replica's seed: they do not know
// of it, and a replica cut off for hours would hold the table that long,
// where the request log keeps every request for its retention anyway.
// Called with pullMu held.
func (w *Windows) raiseCuts(now time.Time) {
	floor := now.Add(-w.opt.Retention + w.opt.SeedMargin).Truncate(time.Microsecond)
	for k, at := range w.cuts {
		if at.Before(floor) {
			w.cuts[k] = floor
		}
	}
}

// Pulled is closed once a read of the other replicas' flushes (Pull) has
// succeeded: from then on the windows hold what the table held of them.
// Until then a replica's windows lack the fleet's last Retention, which
// a seed from the request log stops short of (Cut).
func (w *Windows) Pulled() <-chan struct{} { return w.pulled }

// Seed adds to the other replicas' windows observations read back from the
// request log, as observe.Recorder.Seed does (obs oldest first; from, cut
// and score as there): those of model's version that arrived before the
// Cut given for it, which Pull leaves out. Rows at or after the cut are
// passed over, as Pull takes them.
func (w *Windows) Seed(model, version string, from time.Time, obs []sluice.Observation, cut bool, score func(*sluice.Observation) (float64, bool)) {
	w.pullMu.Lock()
	at, ok := w.cuts[seriesKey{model, version}]
	w.pullMu.Unlock()
	if ok {
		n := 0
		for n < len(obs) && obs[n].At.Before(at) {
			n++
		}
		obs = obs[:n]
	}
	w.remote.Seed(model, version, from, obs, cut, score)
}
