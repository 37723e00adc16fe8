package observe

import "github.com/sluicehq/sluice"

// Seed adds to the windows observations of requests an earlier process
// served, read back from the request log, so that a gateway restarted in
// the middle of a rollout analyses the stage's traffic from where it was
// rather than from zero. obs must be in arrival order, oldest first; a
// window keeps the newest of them as it keeps the newest recorded.
//
// Unlike Record, Seed leaves the Prometheus metrics alone: the former
// process exported those requests already, and a counter that began
// again at their number would count them twice across the restart. For
// the same reason the quality scores score gives (the proxy's heuristic
// score, which the request log's row holds all of; ok false when the
// answer is not scored) go to the quality windows but not to the
// sluice_quality_score histogram.
//
// The caller makes sure no observation is both seeded and recorded:
// the gateway seeds only rows that arrived before it began to serve.
// Seed is for a Recorder no Cursor reads (the fleet's windows read the
// other replicas' flushes instead), safe for concurrent use with Record.
func (r *Recorder) Seed(obs []sluice.Observation, score func(*sluice.Observation) (float64, bool)) {
	for i := range obs {
		o := &obs[i]
		if o.At.IsZero() {
			continue // a row without a time cannot be placed in a window
		}
		s := r.seriesOf(o)
		e := newEntry(o.At.UnixNano(), o)
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
