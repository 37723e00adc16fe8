package observe

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// The sources of quality scores, the "source" label of sluice_quality_score.
const (
	// SourceFeedback is a score a user sent through POST /v1/feedback.
	SourceFeedback = "feedback"
	// SourceHeuristic is the proxy's own score of every successful answer
	// (a refusal or an empty answer scores 0).
	SourceHeuristic = "heuristic"
	// SourceJudge is a grade from an LLM-as-judge.
	SourceJudge = "judge"
	// SourceOther is the source of scores recorded with RecordQuality, and
	// of any source not named above.
	SourceOther = "other"
)

// qualitySources indexes the sources an entry keeps in a byte.
var qualitySources = [...]string{SourceFeedback, SourceHeuristic, SourceJudge, SourceOther}

// sourceIndex returns the index of source in qualitySources, folding an
// unknown source into SourceOther so that callers cannot grow the label set.
func sourceIndex(source string) uint8 {
	for i, s := range qualitySources {
		if s == source {
			return uint8(i)
		}
	}
	return uint8(len(qualitySources) - 1)
}

// qualityBuckets are the upper bounds of sluice_quality_score.
var qualityBuckets = []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}

// qentry is one quality score as a series keeps it: 24 bytes. The score
// stays a float64 so that a grade such as 0.8 reads back exactly.
type qentry struct {
	at     int64 // when the score was given (or the answer was served), Unix nanoseconds
	score  float64
	source uint8
	// nonRandom is set when the answer scored was to a request whose
	// version was not assigned at random (entry.nonRandom); false in a
	// Batch of an older replica.
	nonRandom bool
}

// qualityWindow is the bounded window of the most recent quality scores of
// a series, one ring per source, and their histograms per source. Each
// source keeps its own Options.WindowSize scores: the heuristic scores every
// answer, so in a window shared with users' feedback a busy series pushed
// the feedback out within seconds. It has no lock of its own: series.mu
// guards it.
type qualityWindow struct {
	rings [len(qualitySources)]qring
	hists [len(qualitySources)]hist // bounds nil until the source is first seen
}

// qring is one source's scores: it grows to the window size, then wraps.
type qring struct {
	buf  []qentry
	next int
}

// add appends e to its source's ring, overwriting that source's oldest
// score once size are kept.
func (q *qualityWindow) add(e qentry, size int) {
	r := &q.rings[e.source]
	if len(r.buf) < size {
		r.buf = append(r.buf, e)
	} else {
		r.buf[r.next] = e
		r.next = (r.next + 1) % len(r.buf)
	}
	h := &q.hists[e.source]
	if h.bounds == nil {
		*h = newHist(qualityBuckets)
	}
	h.observe(e.score)
}

// RecordQuality records a quality score in [0, 1] of an answer of a version
// of a model, with source SourceOther; see RecordQualityFrom.
func (r *Recorder) RecordQuality(model, version, category string, at time.Time, score float64) {
	r.RecordQualityFrom(SourceOther, model, version, category, at, score)
}

// RecordQualityFrom records a quality score of an answer of a version of a
// model in a category, given at at by source (SourceFeedback,
// SourceHeuristic, SourceJudge; anything else counts as SourceOther). The
// score is clamped to [0, 1]; NaN is ignored. A zero at is stamped with
// Options.Now. The score appears in the Quality of the Samples that Window
// returns for the series and in the histogram sluice_quality_score. Each
// (model, version, category) keeps the Options.WindowSize most recent
// scores of each source, apart from its observations, so sparse feedback
// is not pushed out by the heuristic's score of every answer; the category
// is bounded as for Record.
func (r *Recorder) RecordQualityFrom(source, model, version, category string, at time.Time, score float64) {
	r.RecordQualityRouted(source, "", model, version, category, at, score)
}

// RecordQualityRouted is RecordQualityFrom for a score of the answer to a
// request routed by route (sluice.Observation.Route): a score of a request
// whose version was not assigned at random by the split is left out of
// Randomized, as the request's observation is. An empty route counts as
// randomized. The proxy gives "split" for a later turn of a conversation
// the split began (sluice.Observation.SplitConversation), whose
// observation the analysis judges with the split's.
func (r *Recorder) RecordQualityRouted(source, route, model, version, category string, at time.Time, score float64) {
	if math.IsNaN(score) {
		return
	}
	score = min(max(score, 0), 1)
	if at.IsZero() {
		at = r.opt.Now()
	}
	key := sluice.Observation{Model: model, Version: version, Category: category}
	s := r.seriesOf(&key)
	e := qentry{at: at.UnixNano(), score: score, source: sourceIndex(source), nonRandom: !randomized(route)}
	s.mu.Lock()
	s.quality.add(e, r.opt.WindowSize)
	s.mu.Unlock()
}

// QualityRecorder returns a function that records scores from source, in
// the shape judge.Judge.Record takes.
func (r *Recorder) QualityRecorder(source string) func(model, version, category, route string, at time.Time, score float64) {
	return func(model, version, category, route string, at time.Time, score float64) {
		r.RecordQualityRouted(source, route, model, version, category, at, score)
	}
}

// addQuality adds to s the quality scores of (model, version, category)
// given at or after since (Unix nanoseconds), in time order; category ""
// takes every category of the version.
func (r *Recorder) addQuality(s *Sample, model, version, category string, since, until int64, randomOnly bool) {
	setQuality(s, r.qualitySince(model, version, category, since, until, randomOnly))
}

// qualitySince returns the scores of (model, version, category) given at or
// after since and before until; category "" takes every category of the
// version. With randomOnly, scores of answers to requests whose version
// was not assigned at random are left out.
func (r *Recorder) qualitySince(model, version, category string, since, until int64, randomOnly bool) []qentry {
	ms := (*r.models.Load())[model]
	if ms == nil {
		return nil
	}
	var got []qentry
	for k, ser := range *ms.series.Load() {
		if k.version != version || (category != "" && k.category != category) {
			continue
		}
		ser.mu.Lock()
		for i := range ser.quality.rings {
			for _, e := range ser.quality.rings[i].buf {
				if e.at >= since && e.at < until && !(randomOnly && e.nonRandom) {
					got = append(got, e)
				}
			}
		}
		ser.mu.Unlock()
	}
	return got
}

// setQuality sets s's quality scores to got's, in time order (stable, so
// scores given at the same moment keep their order), and splits them by
// source.
func setQuality(s *Sample, got []qentry) {
	if len(got) == 0 {
		return
	}
	slices.SortStableFunc(got, func(a, b qentry) int { return cmp.Compare(a.at, b.at) })
	s.Quality = make([]float64, len(got))
	s.QualityBySource = map[string][]float64{}
	for i, e := range got {
		s.Quality[i] = e.score
		src := qualitySources[e.source]
		s.QualityBySource[src] = append(s.QualityBySource[src], e.score)
	}
}

// qualityCollector exports sluice_quality_score, read at scrape time like
// the other metrics of a series.
type qualityCollector struct {
	r     *Recorder
	score *prometheus.Desc
}

func newQualityCollector(r *Recorder) *qualityCollector {
	return &qualityCollector{r: r, score: prometheus.NewDesc("sluice_quality_score",
		"Quality scores of answers in [0, 1], by source: feedback (users, POST /v1/feedback), heuristic (0 for a refusal or an empty answer) or judge (an LLM grader).",
		[]string{"model", "version", "category", "source"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *qualityCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.score }

// Collect implements prometheus.Collector.
func (c *qualityCollector) Collect(ch chan<- prometheus.Metric) {
	for _, ms := range *c.r.models.Load() {
		for _, s := range *ms.series.Load() {
			var hs [len(qualitySources)]hist
			s.mu.Lock()
			for i := range s.quality.hists {
				if s.quality.hists[i].bounds != nil {
					hs[i] = s.quality.hists[i].clone()
				}
			}
			s.mu.Unlock()
			for i := range hs {
				if hs[i].bounds != nil {
					ch <- hs[i].metric(c.score, s.model, s.version, s.category, qualitySources[i])
				}
			}
		}
	}
}
