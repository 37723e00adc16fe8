package observe

import (
	"math"
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
	touched := map[*series]struct{}{}
	for i := range obs {
		o := &obs[i]
		if o.At.IsZero() || o.Model != model || o.Version != version {
			continue // no time to place it by, or not the version asked for
		}
		s := r.seriesOf(o)
		touched[s] = struct{}{}
		e := newEntry(o.At.UnixNano(), o)
		oldest = min(oldest, e.at)
		e.errIdx = r.internErrClass(o.ErrorClass)
		var q qentry
		scored := false
		if score != nil {
			if v, ok := score(o); ok {
				q = qentry{at: e.at, score: min(max(v, 0), 1), source: sourceIndex(SourceHeuristic), nonRandom: e.nonRandom}
				scored = true
			}
		}
		s.mu.Lock()
		s.w.add(&e)
		if scored {
			s.quality.seed(q, r.opt.WindowSize)
		}
		s.mu.Unlock()
		s.all.add(&e)
	}
	if cut && oldest != math.MaxInt64 {
		// Entries older than the oldest read back exist in the log but
		// not here: as if overwritten just before it.
		for s := range touched {
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

// seed appends e to its source's ring as add does, without the histogram
// the Prometheus scrape reads.
func (q *qualityWindow) seed(e qentry, size int) {
	r := &q.rings[e.source]
	if len(r.buf) < size {
		r.buf = append(r.buf, e)
	} else {
		r.buf[r.next] = e
		r.next = (r.next + 1) % len(r.buf)
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
