package observe

import (
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// Batch is what a Recorder observed of one (model, version, category)
// between two calls of Cursor.Take: the observations and the quality
// scores, encoded for another process's Recorder.Ingest. Replicas of a
// gateway exchange Batches so that the one that analyses rollouts sees the
// whole fleet's traffic.
type Batch struct {
	// Model, Version and Category name the series; Category is never ""
	// (NoCategory names the observations without one).
	Model, Version, Category string
	// Observations and Scores count the observations and the quality
	// scores Data holds.
	Observations, Scores int
	// Overwritten counts the observations recorded since the previous Take
	// that the series' window had already overwritten, so that no Batch
	// holds them; it is zero unless a series takes more than
	// Options.WindowSize observations between two Takes. (Quality scores
	// are lost likewise beyond Options.WindowSize of one source, uncounted.)
	Overwritten int64
	// Data is the encoding of the observations and scores. It describes
	// its own layout, so a Recorder of another build decodes the fields
	// both know (see Ingest).
	Data []byte
	// From, if set, has Ingest leave out the observations that arrived
	// before it and their heuristic scores (given at the arrival): the
	// reader has them from elsewhere (a replica that starts mid-rollout
	// reads the older part from the request log, fleet.Windows.Seed), so
	// a long request flushed after the cut, or a flush older than the cut
	// still held, is not counted twice. The other sources' scores are
	// kept: the request log holds none of them. Not encoded.
	From time.Time
}

// Cursor takes, from a Recorder, what each series recorded since the
// previous Take. It reads the windows the Recorder keeps anyway, so Record
// pays nothing for it: a Take holds each series' lock only to copy the new
// entries. Take must not be called concurrently with itself.
type Cursor struct {
	r    *Recorder
	mu   sync.Mutex
	seen map[*series]mark
}

// mark is how many observations and scores (by source) of a series a
// Cursor has taken.
type mark struct {
	obs    int64
	scores [len(qualitySources)]int64
}

// NewCursor returns a Cursor on r that starts at what r holds now: the
// first Take returns only what is recorded after NewCursor.
func NewCursor(r *Recorder) *Cursor {
	c := &Cursor{r: r, seen: map[*series]mark{}}
	c.each(func(s *series) {
		s.mu.Lock()
		c.seen[s] = mark{obs: s.w.total.entries(), scores: s.quality.counts()}
		s.mu.Unlock()
	})
	return c
}

// each calls fn for every series of the Recorder.
func (c *Cursor) each(fn func(s *series)) {
	for _, ms := range *c.r.models.Load() {
		for _, s := range *ms.series.Load() {
			fn(s)
		}
	}
}

// Take returns a Batch for each series that recorded observations or
// quality scores since the previous Take (or NewCursor), in no particular
// order.
func (c *Cursor) Take() []Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Batch
	live := make(map[*series]mark, len(c.seen))
	c.each(func(s *series) {
		m := c.seen[s] // zero for a series new since the last Take
		s.mu.Lock()
		obs, scores := s.w.total.entries(), s.quality.counts()
		nObs := obs - m.obs
		var es []entry
		var qs []qentry
		if nObs > 0 {
			es = newestEntries(s.w.buf, s.w.next, len(s.w.buf) == s.w.size, nObs)
		}
		for i, r := range s.quality.rings {
			if n := scores[i] - m.scores[i]; n > 0 {
				qs = append(qs, newestEntries(r.buf, r.next, len(r.buf) == c.r.opt.WindowSize, n)...)
			}
		}
		s.mu.Unlock()
		live[s] = mark{obs: obs, scores: scores}
		if len(es) == 0 && len(qs) == 0 {
			return
		}
		out = append(out, Batch{
			Model: s.model, Version: s.version, Category: s.category,
			Observations: len(es), Scores: len(qs),
			Overwritten: nObs - int64(len(es)),
			Data:        encodeBatch(es, qs, *c.r.errClasses.Load()),
		})
	})
	// Forgotten series drop out of the marks.
	c.seen = live
	return out
}

// counts returns how many scores of each source the window has taken since
// it began: the histograms count every one.
func (q *qualityWindow) counts() [len(qualitySources)]int64 {
	var n [len(qualitySources)]int64
	for i := range q.hists {
		n[i] = int64(q.hists[i].count)
	}
	return n
}

// newestEntries copies the n most recent of a ring buffer's items (fewer
// when it holds fewer), oldest first. Once full, the ring's oldest item is
// at next.
func newestEntries[T any](buf []T, next int, full bool, n int64) []T {
	k := int(min(n, int64(len(buf))))
	if k == 0 {
		return nil
	}
	out := make([]T, 0, k)
	if !full {
		return append(out, buf[len(buf)-k:]...)
	}
	start := next - k
	if start < 0 {
		out = append(out, buf[len(buf)+start:]...)
		start = 0
	}
	return append(out, buf[start:next]...)
}

// Ingest adds what b holds to r's windows, as if r had recorded it: the
// observations keep the arrival times they had where they were recorded,
// so Window's since applies to them as to r's own (those before b.From
// left out). The Prometheus metrics
// are left alone (they are the recording process's to export). The
// category is bounded as for Record. Fields of the observations that this
// build does not know are dropped and fields the sender did not know are
// zero; an error means b.Data is not a Batch encoding, and nothing was
// added.
func (r *Recorder) Ingest(b Batch) error {
	es, qs, err := r.decodeBatch(b.Data)
	if err != nil {
		return err
	}
	if !b.From.IsZero() {
		from := b.From.UnixNano()
		es = slices.DeleteFunc(es, func(e entry) bool { return e.at < from })
		heuristic := sourceIndex(SourceHeuristic)
		qs = slices.DeleteFunc(qs, func(q qentry) bool { return q.source == heuristic && q.at < from })
		if len(es) == 0 && len(qs) == 0 {
			return nil
		}
	}
	key := sluice.Observation{Model: b.Model, Version: b.Version, Category: b.Category}
	s := r.seriesOf(&key)
	s.mu.Lock()
	for i := range es {
		s.w.add(&es[i])
	}
	for _, q := range qs {
		s.quality.add(q, r.opt.WindowSize)
	}
	s.mu.Unlock()
	if len(es) > 0 {
		s.all.mu.Lock()
		for i := range es {
			s.all.w.add(&es[i])
		}
		s.all.mu.Unlock()
	}
	return nil
}
