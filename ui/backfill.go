package ui

import (
	"context"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// maxBackfillRows bounds the request log rows one backfill reads: the
// newest this many of the charts' window (15 minutes at 55 requests a
// second), about 20 MB while they are bucketed. A busier model's charts
// reach back as far as those rows do, and the note says from when.
const maxBackfillRows = 50_000

// backfillTimeout bounds the request log read the first page waits on.
const backfillTimeout = 10 * time.Second

// backfillRetryAfter is how long a failed read of the charts' past is
// remembered: until then the charts are answered from what the sampler
// holds, with a note that the past could not be read (SeriesAnswer's
// PastUnread), and the next request after it reads the log again. With the
// store down, every chart request had waited up to backfillTimeout on a
// read that failed again, each logged; 30 s is also how long api.Auth
// keeps a failed read of the admin tokens before it reads them again.
const backfillRetryAfter = 30 * time.Second

// fill is the backfill of one model in one run of the sampler.
type fill struct {
	run  int64
	done chan struct{}
	// failed is when the read failed (zero while it runs or once it
	// succeeded), set before done is closed, under the sampler's lock.
	failed time.Time
}

// backfill puts before the points this run of the sampler took those of
// the charts' window before it, bucketed from the request log, which holds
// every request the gateway (on a shared store, the fleet) answered: a page
// opened during an incident showed the minute since it was opened. It is
// done once a run per model, by the first request for the model's series,
// which waits for it; a failed read is tried again by the first request
// backfillRetryAfter after it, and the requests between are answered at
// once, without the past (pastUnread says so). Mirrored
// (shadow) requests are not in the request log: a shadow candidate's
// series has sampled points only.
func (sm *sampler) backfill(ctx context.Context, model string) {
	st := sm.s.opt.Control.Store()
	if sm.s.opt.Windows == nil || st == nil {
		return
	}
	sm.mu.Lock()
	if !sm.running {
		sm.mu.Unlock()
		return
	}
	if f := sm.filled[model]; f != nil && f.run == sm.run && (f.failed.IsZero() || sm.s.opt.Now().Sub(f.failed) < backfillRetryAfter) {
		sm.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
		}
		return
	}
	f := &fill{run: sm.run, done: make(chan struct{})}
	sm.filled[model] = f
	end := sm.runFrom
	sm.mu.Unlock()
	defer close(f.done)

	asker := ctx
	ctx, cancel := context.WithTimeout(ctx, backfillTimeout)
	defer cancel()
	since := end.Add(-sm.s.opt.History - sm.s.opt.Smooth)
	rows, err := st.Requests(ctx, sluice.RequestQuery{Model: model, Since: since, Until: end, Limit: maxBackfillRows})
	if err != nil && asker.Err() != nil {
		// The request that read went away: that says nothing of the
		// store, and the next request reads again.
		sm.mu.Lock()
		if sm.filled[model] == f {
			delete(sm.filled, model)
		}
		sm.mu.Unlock()
		return
	}
	if err != nil {
		sm.s.opt.Logger.Warn("dashboard: read the charts' past from the request log", "model", model, "err", err, "retry_after", backfillRetryAfter)
		sm.mu.Lock()
		f.failed = sm.s.opt.Now() // the first request after backfillRetryAfter tries again
		sm.mu.Unlock()
		return
	}
	// The rows come newest first; with as many as asked for, the log may
	// hold more before the oldest: a point starts after it.
	reach := since
	if len(rows) == maxBackfillRows {
		reach = rows[len(rows)-1].At.Add(time.Nanosecond)
	}
	slices.Reverse(rows)
	reg := sm.s.opt.Control.Registry()
	arms := charted(reg, model, sm.s.opt.Now(), sm.s.opt.History)
	pts := logPoints(rows, sm.s.opt.Windows.Versions(model), arms, reach, end, sm.s.opt.Step, sm.s.opt.Smooth, sm.s.opt.History)

	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.run != f.run {
		return // the run ended: its points are no longer sampled
	}
	endMS := end.UnixMilli()
	for k, b := range pts {
		k.model = model
		cur := sm.series[k]
		// Points before this run (an earlier one's) stay; the log fills
		// from the last of them to where this run began.
		i, _ := slices.BinarySearchFunc(cur, endMS, func(p Point, t int64) int { return int(p.T - t) })
		older, newer := cur[:i], cur[i:]
		if len(older) > 0 {
			last := older[len(older)-1].T
			j, _ := slices.BinarySearchFunc(b, last+1, func(p Point, t int64) int { return int(p.T - t) })
			b = b[j:]
		}
		if len(b) == 0 {
			continue
		}
		sm.series[k] = slices.Concat(older, b, newer)
	}
}

// logPoints buckets request log rows (oldest first, at or after reach) into
// the points the sampler would have taken every step before end, as far
// back as history: each summarises the rows in the smooth window ending at
// it, as pointOf summarises a window. A series starts at its first row. The
// versions charted are those with rows or observations (chartedVersions),
// with their categories for the arms alone, as sample charts them; a
// category is NoCategory for rows without one, and beyond the windows'
// observe.DefaultMaxCategories others, OtherCategory, as the Recorder
// keeps them.
func logPoints(rows []sluice.Observation, observed, arms []string, reach, end time.Time, step, smooth, history time.Duration) map[seriesKey][]Point {
	type series struct {
		rows []*sluice.Observation
	}
	byKey := map[seriesKey]*series{}
	add := func(k seriesKey, o *sluice.Observation) {
		s := byKey[k]
		if s == nil {
			s = &series{}
			byKey[k] = s
		}
		s.rows = append(s.rows, o)
	}
	versions := slices.Clone(observed)
	cats := map[string]bool{}
	for i := range rows {
		if !slices.Contains(versions, rows[i].Version) {
			versions = append(versions, rows[i].Version)
		}
	}
	versions = chartedVersions(versions, arms)
	for i := range rows {
		o := &rows[i]
		if !slices.Contains(versions, o.Version) {
			continue
		}
		add(seriesKey{version: o.Version}, o)
		if !slices.Contains(arms, o.Version) {
			continue
		}
		c := o.Category
		if c == "" {
			c = observe.NoCategory
		}
		if !cats[c] && c != observe.OtherCategory {
			if len(cats) >= observe.DefaultMaxCategories {
				c = observe.OtherCategory
			} else {
				cats[c] = true
			}
		}
		add(seriesKey{version: o.Version, category: c}, o)
	}
	out := map[seriesKey][]Point{}
	oldest := end.Add(-history)
	if r := reach.Add(smooth); r.After(oldest) {
		oldest = r
	}
	n := int(end.Sub(oldest) / step)
	for k, s := range byKey {
		var pts []Point
		lo, hi := 0, 0
		for i := n; i >= 1; i-- {
			t := end.Add(-time.Duration(i) * step)
			if !t.After(s.rows[0].At) {
				continue // before the series' first request
			}
			from := t.Add(-smooth)
			for hi < len(s.rows) && s.rows[hi].At.Before(t) {
				hi++
			}
			for lo < hi && s.rows[lo].At.Before(from) {
				lo++
			}
			pts = append(pts, pointOf(sampleOf(s.rows[lo:hi]), t, smooth))
		}
		if len(pts) > 0 {
			out[k] = pts
		}
	}
	return out
}

// sampleOf summarises rows as the Recorder's windows summarise the same
// observations (observe's Counts.add and snapshot.sample): failures and
// cancels counted, the latencies, stream times to first token and output
// tokens of the successful ones, an estimate's tokens read as none.
func sampleOf(rows []*sluice.Observation) observe.Sample {
	var s observe.Sample
	for _, o := range rows {
		s.Requests++
		ok := o.ErrorClass == ""
		if ok {
			s.Succeeded++
		}
		if o.Failed() {
			s.Errors++
		}
		if o.Retried {
			s.Retried++
		}
		if !ok {
			continue
		}
		if o.Refusal {
			s.Refusals++
		}
		if o.ToolsOffered {
			s.ToolAnswers++
			if o.ToolCall {
				s.ToolCalls++
			}
		}
		s.Latency = append(s.Latency, float64(float32(float64(o.Latency)/1e6)))
		if o.Stream {
			s.TTFT = append(s.TTFT, float64(float32(float64(o.TTFT)/1e6)))
		}
		tok := o.OutputTokens
		if o.TokensEstimated {
			tok = 0
		}
		s.OutputTokens = append(s.OutputTokens, float64(tok))
	}
	if len(rows) > 0 {
		s.First, s.Last = rows[0].At, rows[len(rows)-1].At
	}
	return s
}

// pastUnread reports whether the charts of model lack their past because
// the last read of the request log for it, in this run, failed.
func (sm *sampler) pastUnread(model string) bool {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	f := sm.filled[model]
	return f != nil && f.run == sm.run && !f.failed.IsZero()
}
