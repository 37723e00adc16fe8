package observe

import (
	"math"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
)

// Seed adds to the windows observations of requests an earlier process
// served, read back from the request log, so that a gateway restarted in
// the middle of a rollout analyses the stage's traffic from where it was
// rather than from zero. obs must be in arrival order, oldest first; a
// window keeps the newest of them as it keeps the newest recorded. from is
// where the rows begin: every request of the model's version from then on
// is among them (the request log's rows of one version since from), so
// Summary takes the version as observed since from, not since the
// Recorder started. Rows of another model or version are passed over.
//
// Unlike Record, Seed leaves the Prometheus metrics alone: the former
// process exported those requests already, and a counter that began
// again at their number would count them twice across the restart. For
// the same reason the quality scores score gives (the proxy's heuristic
// score, which the request log's row holds all of; ok false when the
// answer is not scored) go to the quality windows but not to the
// sluice_quality_score histogram.
//
// cut says the request log holds more of the version's rows since from
// than obs (the read stopped at its limit, the newest kept): the windows
// then say they no longer reach back before the oldest of obs, as a
// window that overwrote older entries does (Sample.Truncated), so the
// analysis compares both arms over the span both windows hold, and the
// version counts as observed from the oldest on.
//
// The caller makes sure no observation is both seeded and recorded:
// the gateway seeds only rows that arrived before it began to serve.
// Seed is for a Recorder no Cursor reads (the fleet's windows read the
// other replicas' flushes instead), safe for concurrent use with Record.
func (r *Recorder) Seed(model, version string, from time.Time, obs []sluice.Observation, cut bool, score func(*sluice.Observation) (float64, bool)) {
	var oldest int64 = math.MaxInt64
	// The rows go in per window at once: the gateway serves while it
	// seeds, so a window may already hold newer requests, which the rows
	// go before (seedOlder), not after as add would put them.
	type seeded struct {
		es []entry
		qs []qentry
	}
	bySeries := map[*series]*seeded{}
	byRing := map[*ring][]entry{}
	var order []*series // the map's order is random; the rings' locks are taken in this one
	for i := range obs {
		o := &obs[i]
		if o.At.IsZero() || o.Model != model || o.Version != version {
			continue // no time to place it by, or not the version asked for
		}
		s := r.seriesOf(o)
		sd := bySeries[s]
		if sd == nil {
			sd = &seeded{}
			bySeries[s] = sd
			order = append(order, s)
		}
		e := newEntry(o.At.UnixNano(), o)
		oldest = min(oldest, e.at)
		e.errIdx = r.internErrClass(o.ErrorClass)
		if score != nil {
			if v, ok := score(o); ok {
				sd.qs = append(sd.qs, qentry{at: e.at, score: min(max(v, 0), 1), source: sourceIndex(SourceHeuristic), nonRandom: e.nonRandom})
			}
		}
		sd.es = append(sd.es, e)
		byRing[s.all] = append(byRing[s.all], e)
	}
	for _, s := range order {
		sd := bySeries[s]
		s.mu.Lock()
		s.w.seedOlder(sd.es)
		s.quality.seedOlder(sd.qs, r.opt.WindowSize)
		s.mu.Unlock()
	}
	for _, s := range order {
		if es, ok := byRing[s.all]; ok {
			s.all.mu.Lock()
			s.all.w.seedOlder(es)
			s.all.mu.Unlock()
			delete(byRing, s.all)
		}
	}
	if cut && oldest != math.MaxInt64 {
		// Entries older than the oldest read back exist in the log but
		// not here: as if overwritten just before it.
		for _, s := range order {
			s.mu.Lock()
			s.w.evicted = max(s.w.evicted, oldest-1)
			s.mu.Unlock()
			s.all.mu.Lock()
			s.all.w.evicted = max(s.all.w.evicted, oldest-1)
			s.all.mu.Unlock()
		}
		from = time.Unix(0, oldest)
	}
	r.markSeeded(model, version, from)
}

// seedOlder puts es (oldest first, every one older than what w holds)
// before w's entries, as if added before them: w keeps the newest size of
// all, and says it overwrote the rest.
func (w *window) seedOlder(es []entry) {
	if len(es) == 0 {
		return
	}
	for i := range es {
		w.total.add(&es[i])
	}
	all := append(slices.Clone(es), w.buf[w.next:]...)
	all = append(all, w.buf[:w.next]...)
	if drop := len(all) - w.size; drop > 0 {
		for i := range drop {
			w.evicted = max(w.evicted, all[i].at)
		}
		all = all[drop:]
	}
	w.buf, w.next = all, 0
}

// seedOlder puts es (oldest first, every one older than the scores held)
// before its source's scores, without the histogram the Prometheus scrape
// reads: each source keeps its newest size.
func (q *qualityWindow) seedOlder(es []qentry, size int) {
	for src := range q.rings {
		var mine []qentry
		for _, e := range es {
			if int(e.source) == src {
				mine = append(mine, e)
			}
		}
		if len(mine) == 0 {
			continue
		}
		r := &q.rings[src]
		all := append(mine, r.buf[r.next:]...)
		all = append(all, r.buf[:r.next]...)
		if drop := len(all) - size; drop > 0 {
			all = all[drop:]
		}
		r.buf, r.next = all, 0
	}
}

// markSeeded notes that the Recorder holds model's version's requests from
// from on, if that is before it started.
func (r *Recorder) markSeeded(model, version string, from time.Time) {
	if from.IsZero() || !from.Before(r.started) {
		return
	}
	ms := (*r.models.Load())[model]
	if ms == nil {
		ms = r.addModel(model)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ms.seeded == nil {
		ms.seeded = map[string]time.Time{}
	}
	if at, ok := ms.seeded[version]; !ok || from.Before(at) {
		ms.seeded[version] = from
	}
}

// observedFrom is when the Recorder began to hold model's version's
// requests: when it started, or earlier where Seed filled the version's
// windows from the request log.
func (r *Recorder) observedFrom(model, version string) time.Time {
	ms := (*r.models.Load())[model]
	if ms == nil {
		return r.started
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if at, ok := ms.seeded[version]; ok {
		return at
	}
	return r.started
}
