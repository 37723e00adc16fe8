package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// Limits on what the sampler keeps, so that many versions or categories
// cannot grow it without bound.
const (
	maxVersionsCharted = 12
	maxVerdictsKept    = 500
)

// Point is one point of a version's time-series: the trailing window
// (Options.Smooth) ending at T, summarised.
type Point struct {
	// T is the end of the window, in Unix milliseconds.
	T int64 `json:"t"`
	// N is the requests in the window; RPS the request rate per second.
	N   int64   `json:"n"`
	RPS float64 `json:"rps"`
	// Err is the error rate (of the requests that finished, as the analysis
	// counts it); Can the share of requests canceled by their client; Ref
	// the refusal rate (of the successful ones); fractions, 0 without
	// requests.
	Err float64 `json:"err"`
	Can float64 `json:"can"`
	Ref float64 `json:"ref"`
	// P50 and P99 are latency percentiles, TTFT the median time to first
	// token of streams, in milliseconds; Tok the mean output tokens. They
	// are absent when the window has no such data.
	P50  *float64 `json:"p50,omitempty"`
	P99  *float64 `json:"p99,omitempty"`
	TTFT *float64 `json:"ttft,omitempty"`
	Tok  *float64 `json:"tok,omitempty"`
	// Tool is the tool-call rate: the answers that called a tool over the
	// answers to requests that offered tools, a fraction; absent when no
	// request in the window offered tools.
	Tool *float64 `json:"tool,omitempty"`
}

type seriesKey struct{ model, version, category string }

// sampler turns the Recorder's windows into time-series every Step while
// the dashboard is in use, and keeps each rollout's verdicts as they come.
type sampler struct {
	s *Server

	mu       sync.Mutex
	series   map[seriesKey][]Point
	running  bool
	lastUse  time.Time
	tick     chan struct{} // closed and replaced after each sampling
	verdicts map[string]*verdictLog
	// run counts the times sampling started; runFrom is the (lagged) time
	// the current run began, before which backfill reads the request log;
	// filled is each model's backfill (backfill.go).
	run     int64
	runFrom time.Time
	filled  map[string]*fill
}

// verdictLog is the verdicts of a model's latest rollout.
type verdictLog struct {
	rollout string
	last    json.RawMessage
	list    []sluice.Verdict
	// seeded is set once the verdicts from before this process heard of
	// the rollout were read from the audit (seedVerdicts).
	seeded bool
}

func newSampler(s *Server) *sampler {
	return &sampler{s: s, series: map[seriesKey][]Point{}, tick: make(chan struct{}), verdicts: map[string]*verdictLog{}, filled: map[string]*fill{}}
}

// touch notes a dashboard request and starts the sampling if it stopped.
func (sm *sampler) touch() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.lastUse = time.Now()
	if sm.running || sm.s.opt.Windows == nil {
		return
	}
	select {
	case <-sm.s.closed:
		return
	default:
	}
	sm.running = true
	sm.run++
	sm.runFrom = sm.s.opt.Now().Add(-sm.s.opt.Lag)
	go sm.sampleEvery()
}

func (sm *sampler) sampleEvery() {
	t := time.NewTicker(sm.s.opt.Step)
	defer t.Stop()
	sm.sample(sm.s.opt.Now())
	for {
		select {
		case <-sm.s.closed:
			sm.mu.Lock()
			sm.running = false
			sm.mu.Unlock()
			return
		case <-t.C:
		}
		sm.mu.Lock()
		idle := time.Since(sm.lastUse) > sm.s.opt.IdleAfter
		if idle {
			sm.running = false
		}
		sm.mu.Unlock()
		if idle {
			return
		}
		sm.sample(sm.s.opt.Now())
	}
}

// tickChan returns the channel closed after the next sampling.
func (sm *sampler) tickChan() <-chan struct{} {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.tick
}

// charted returns the versions whose categories are charted: the arms of
// the model's running rollout; else the versions the policy serves, and
// the arms of a rollout that ended less than history ago, so its end stays
// on the charts as long as they reach back to it (after that, a split
// changed by hand later is charted as it is, not the old arms).
func charted(reg *sluice.Registry, model string, now time.Time, history time.Duration) []string {
	r := reg.Rollouts[model]
	if r != nil && r.Phase.Active() {
		return []string{r.Spec.Baseline, r.Spec.Candidate}
	}
	out := reg.ServingVersions(model)
	if r != nil && now.Sub(r.EndedAt) < history {
		for _, v := range []string{r.Spec.Baseline, r.Spec.Candidate} {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// sample adds one point to every series.
func (sm *sampler) sample(now time.Time) {
	w := sm.s.opt.Windows
	reg := sm.s.opt.Control.Registry()
	var until time.Time // no end for a gateway on its own
	realNow := now
	if lag := sm.s.opt.Lag; lag > 0 {
		now = now.Add(-lag)
		until = now
	}
	since := now.Add(-sm.s.opt.Smooth)
	// point summarises the window ending until (the lag before now). When
	// the windows no longer reach back that far (they keep their newest
	// observations, and at high rates those all lie within the lag), it
	// summarises what they hold up to now instead, stamped at the lagged
	// time so the series stays in order.
	point := func(model, v, c string) Point {
		smp := w.Between(model, v, c, since, until)
		if smp.Requests == 0 && smp.Truncated && !until.IsZero() {
			p := pointOf(w.Window(model, v, c, realNow.Add(-sm.s.opt.Smooth)), realNow, sm.s.opt.Smooth)
			p.T = now.UnixMilli()
			return p
		}
		return pointOf(smp, now, sm.s.opt.Smooth)
	}
	type add struct {
		k seriesKey
		p Point
	}
	var adds []add
	for _, model := range reg.ModelNames() {
		arms := charted(reg, model, realNow, sm.s.opt.History)
		versions := chartedVersions(w.Versions(model), arms)
		for _, v := range versions {
			adds = append(adds, add{seriesKey{model, v, ""}, point(model, v, "")})
		}
		cats := w.Categories(model)
		for _, v := range arms {
			if !slices.Contains(versions, v) {
				continue
			}
			for _, c := range cats {
				adds = append(adds, add{seriesKey{model, v, c}, point(model, v, c)})
			}
		}
	}
	keep := int(sm.s.opt.History / sm.s.opt.Step)
	sm.mu.Lock()
	for _, a := range adds {
		pts := append(sm.series[a.k], a.p)
		if len(pts) > keep {
			pts = slices.Delete(pts, 0, len(pts)-keep)
		}
		sm.series[a.k] = pts
	}
	// A series no longer sampled (a version retired or no longer charted, a
	// model removed) loses its points as they age out of History, and goes
	// when it has none left: before, it kept its last points for ever.
	oldest := now.Add(-sm.s.opt.History).UnixMilli()
	for k, pts := range sm.series {
		i := 0
		for i < len(pts) && pts[i].T < oldest {
			i++
		}
		switch {
		case i == len(pts):
			delete(sm.series, k)
		case i > 0:
			sm.series[k] = slices.Delete(pts, 0, i)
		}
	}
	close(sm.tick)
	sm.tick = make(chan struct{})
	sm.mu.Unlock()
}

// pointOf summarises a window ending at now that spans smooth (or less,
// when the window no longer reaches back that far).
func pointOf(s observe.Sample, now time.Time, smooth time.Duration) Point {
	p := Point{T: now.UnixMilli(), N: s.Requests}
	span := smooth.Seconds()
	if s.Truncated && !s.First.IsZero() {
		span = max(now.Sub(s.First).Seconds(), 1e-3)
	}
	p.RPS = float64(s.Requests) / span
	if s.Requests > 0 {
		canceled := s.Canceled()
		p.Can = float64(canceled) / float64(s.Requests)
		if finished := s.Requests - canceled; finished > 0 {
			p.Err = float64(s.Errors) / float64(finished)
		}
	}
	if s.Succeeded > 0 {
		p.Ref = float64(s.Refusals) / float64(s.Succeeded)
	}
	if s.ToolAnswers > 0 {
		p.Tool = ptr(float64(s.ToolCalls) / float64(s.ToolAnswers))
	}
	if len(s.Latency) > 0 {
		slices.Sort(s.Latency)
		p.P50, p.P99 = ptr(quantile(s.Latency, 0.5)), ptr(quantile(s.Latency, 0.99))
	}
	if len(s.TTFT) > 0 {
		slices.Sort(s.TTFT)
		p.TTFT = ptr(quantile(s.TTFT, 0.5))
	}
	if len(s.OutputTokens) > 0 {
		var sum float64
		for _, x := range s.OutputTokens {
			sum += x
		}
		p.Tok = ptr(sum / float64(len(s.OutputTokens)))
	}
	return p
}

func ptr(f float64) *float64 {
	f = math.Round(f*1000) / 1000
	return &f
}

// quantile returns the q-quantile of sorted, interpolating between the
// closest ranks; 0 when empty.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	h := q * float64(n-1)
	lo := int(h)
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// points returns model's points in category after t (Unix ms) by version.
func (sm *sampler) points(model, category string, after int64) map[string][]Point {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	out := map[string][]Point{}
	for k, pts := range sm.series {
		if k.model != model || k.category != category {
			continue
		}
		i, _ := slices.BinarySearchFunc(pts, after+1, func(p Point, t int64) int { return int(p.T - t) })
		if i < len(pts) {
			out[k.version] = slices.Clone(pts[i:])
		}
	}
	return out
}

// charting returns the categories with a series of model and when this run
// of the sampling began (Unix ms, 0 when it is not running).
func (sm *sampler) charting(model string) (cats []string, from int64) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.running {
		from = sm.runFrom.UnixMilli()
	}
	for k := range sm.series {
		if k.model == model && k.category != "" && !slices.Contains(cats, k.category) {
			cats = append(cats, k.category)
		}
	}
	return cats, from
}

// watchRegistry keeps each model's latest rollout's verdicts as the
// controller commits them (the rollout itself keeps only the last).
func (sm *sampler) watchRegistry(reg *sluice.Registry) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	for model, r := range reg.Rollouts {
		if r == nil {
			continue
		}
		log := sm.verdicts[model]
		if log == nil || log.rollout != r.ID {
			log = &verdictLog{rollout: r.ID}
			sm.verdicts[model] = log
		}
		if len(r.LastVerdict) == 0 || bytes.Equal(r.LastVerdict, log.last) {
			continue
		}
		log.last = r.LastVerdict
		var v sluice.Verdict
		if json.Unmarshal(r.LastVerdict, &v) == nil {
			log.list = append(log.list, v)
			if len(log.list) > maxVerdictsKept {
				log.list = slices.Delete(log.list, 0, len(log.list)-maxVerdictsKept)
			}
		}
	}
}

// SeriesAnswer is the answer to GET /ui/api/series.
type SeriesAnswer struct {
	// Model and Category are what was asked ("" category: all traffic).
	Model    string `json:"model"`
	Category string `json:"category"`
	// StepMS and SmoothMS are Options.Step and Options.Smooth.
	StepMS   int64 `json:"step_ms"`
	SmoothMS int64 `json:"smooth_ms"`
	// Baseline and Candidate are the arms of the model's running rollout,
	// empty without one (the charts then show every version charted).
	Baseline  string `json:"baseline,omitempty"`
	Candidate string `json:"candidate,omitempty"`
	// Categories are the request categories seen for the model.
	Categories []string `json:"categories"`
	// Series holds each version's points, oldest first: those before
	// SampledFrom bucketed from the request log (backfill), then sampled.
	Series map[string][]Point `json:"series"`
	// SampledFrom is when the gateway began sampling these points (Unix
	// ms): a series that starts there, while others reach back before it,
	// is one the request log does not hold (a shadow candidate's mirrored
	// requests). Zero when nothing is sampled.
	SampledFrom int64 `json:"sampled_from,omitempty"`
	// PastUnread is set when the request log could not be read for the
	// points before SampledFrom (the store is down): the series hold what
	// was sampled since only. The page asks again for the series after
	// RetryMS, when the gateway reads the log again (backfillRetryAfter).
	PastUnread bool  `json:"past_unread,omitempty"`
	RetryMS    int64 `json:"retry_ms,omitempty"`
}

func (s *Server) seriesAnswer(model, category string, after int64) SeriesAnswer {
	out := SeriesAnswer{Model: model, Category: category, StepMS: s.opt.Step.Milliseconds(), SmoothMS: s.opt.Smooth.Milliseconds(), Categories: []string{}}
	if r := s.opt.Control.Registry().ActiveRollout(model); r != nil {
		out.Baseline, out.Candidate = r.Spec.Baseline, r.Spec.Candidate
	}
	if s.opt.Windows != nil {
		out.Categories = append(out.Categories, s.opt.Windows.Categories(model)...)
	}
	out.Series = s.samp.points(model, category, after)
	cats, from := s.samp.charting(model)
	out.SampledFrom = from
	if s.samp.pastUnread(model) {
		out.PastUnread, out.RetryMS = true, backfillRetryAfter.Milliseconds()
	}
	// A category in the request log's past the windows no longer hold
	// (this process started since) is charted too.
	for _, c := range cats {
		if !slices.Contains(out.Categories, c) {
			out.Categories = append(out.Categories, c)
		}
	}
	slices.Sort(out.Categories)
	return out
}

// modelParam returns the model query parameter, checked.
func modelParam(r *http.Request) (string, error) {
	m := r.URL.Query().Get("model")
	if err := sluice.CheckName("model name", m); err != nil {
		return "", err
	}
	return m, nil
}

func (s *Server) series(w http.ResponseWriter, r *http.Request, _ *session, _ *sluice.Token) {
	model, err := modelParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s.samp.backfill(r.Context(), model)
	writeJSON(w, s.seriesAnswer(model, r.URL.Query().Get("category"), 0))
}

// Tick is the data of one server-sent "tick" event.
type Tick struct {
	SeriesAnswer
	// Revision is the registry's revision: the page reloads models and the
	// rollout when it changes.
	Revision int64 `json:"revision"`
	// Verdicts is how many verdicts the model's latest rollout has had
	// since the dashboard started watching.
	Verdicts int `json:"verdicts"`
}

// events streams a "tick" event after each sampling, with the points added
// since the last one, until the client goes away, the session ends, or the
// server shuts down. The browser's EventSource reconnects by itself.
func (s *Server) events(w http.ResponseWriter, r *http.Request, sess *session, _ *sluice.Token) {
	model, err := modelParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	category := r.URL.Query().Get("category")
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	rc.Flush()
	stop := s.stopSignal(r)
	// A stream ends after a while so that a revoked token or an expired
	// session is noticed; the browser reconnects with its cookie.
	end := time.NewTimer(5 * time.Minute)
	defer end.Stop()
	recheck := time.Now().Add(30 * time.Second)
	for {
		tick := s.samp.tickChan()
		select {
		case <-r.Context().Done():
			return
		case <-stop:
			return
		case <-end.C:
			return
		case <-tick:
		}
		s.samp.touch()
		if time.Now().After(recheck) {
			if _, _, err := s.resolve(r); err != nil {
				fmt.Fprint(w, "event: signed_out\ndata: {}\n\n")
				rc.Flush()
				return
			}
			recheck = time.Now().Add(30 * time.Second)
		}
		t := Tick{SeriesAnswer: s.seriesAnswer(model, category, after), Revision: s.opt.Control.Registry().Revision}
		for _, pts := range t.Series {
			if len(pts) > 0 {
				after = max(after, pts[len(pts)-1].T)
			}
		}
		s.samp.mu.Lock()
		if l := s.samp.verdicts[model]; l != nil {
			t.Verdicts = len(l.list)
		}
		s.samp.mu.Unlock()
		b, _ := json.Marshal(t)
		if _, err := fmt.Fprintf(w, "event: tick\ndata: %s\n\n", b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// VerdictsAnswer is the answer to GET /ui/api/verdicts.
type VerdictsAnswer struct {
	// Rollout is the id of the model's latest rollout.
	Rollout string `json:"rollout"`
	// Verdicts are its analyses seen since the dashboard started, oldest
	// first, each with its numbers.
	Verdicts []sluice.Verdict `json:"verdicts"`
	// StageNeed is the sample the current stage needs.
	StageNeed int `json:"stage_need"`
}

func (s *Server) verdicts(w http.ResponseWriter, r *http.Request, _ *session, _ *sluice.Token) {
	model, err := modelParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	out := VerdictsAnswer{Verdicts: []sluice.Verdict{}}
	if ro := s.opt.Control.Registry().Rollouts[model]; ro != nil {
		out.StageNeed = rollout.StageNeed(ro)
	}
	s.seedVerdicts(r, model)
	s.samp.mu.Lock()
	if l := s.samp.verdicts[model]; l != nil {
		out.Rollout = l.rollout
		out.Verdicts = append(out.Verdicts, l.list...)
	}
	s.samp.mu.Unlock()
	writeJSON(w, out)
}

// seedVerdicts puts before the verdicts of model's latest rollout that this
// process heard of those from before, read once from the audit (each
// analysis's entry holds its verdict's summary, without the per-metric
// rows). A replica started or restarted during a rollout listed only the
// verdicts since its start, so the dashboard's history depended on which
// replica served it. A failed read is tried again at the next request.
func (s *Server) seedVerdicts(r *http.Request, model string) {
	s.samp.mu.Lock()
	l := s.samp.verdicts[model]
	if l == nil || l.seeded {
		s.samp.mu.Unlock()
		return
	}
	id := l.rollout
	s.samp.mu.Unlock()
	// rollout.analysis and rollout.decision (an analysis that moved the
	// rollout) hold verdicts; the rollout's other entries are few.
	entries, err := s.opt.Control.Store().Audit(r.Context(), sluice.AuditQuery{Model: model, Action: "rollout.", Text: id, Limit: maxVerdictsKept + 64})
	if err != nil {
		s.opt.Logger.Warn("dashboard: read earlier verdicts from the audit", "rollout", id, "err", err)
		return
	}
	var older []sluice.Verdict // oldest first; the audit answers newest first
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Subject != id {
			continue
		}
		var after struct {
			Verdict *sluice.Verdict `json:"verdict"`
		}
		if json.Unmarshal(entries[i].After, &after) != nil || after.Verdict == nil || after.Verdict.At.IsZero() {
			continue // written by a release that did not record it
		}
		if after.Verdict.Metrics == nil {
			after.Verdict.Metrics = []sluice.MetricVerdict{}
		}
		older = append(older, *after.Verdict)
	}
	s.samp.mu.Lock()
	defer s.samp.mu.Unlock()
	if s.samp.verdicts[model] != l || l.seeded {
		return // another rollout began, or another request seeded it
	}
	l.seeded = true
	if len(l.list) > 0 {
		first := l.list[0].At
		older = slices.DeleteFunc(older, func(v sluice.Verdict) bool { return !v.At.Before(first) })
	}
	l.list = append(older, l.list...)
	if len(l.list) > maxVerdictsKept {
		l.list = slices.Delete(l.list, 0, len(l.list)-maxVerdictsKept)
	}
}

// chartedVersions picks at most maxVersionsCharted of the observed versions
// to chart: the rollout's arms or the serving versions first (a stable
// version that outlived a dozen candidates was dropped for sorting before
// them), then the others, newest tags first.
func chartedVersions(observed, first []string) []string {
	if len(observed) <= maxVersionsCharted {
		return observed
	}
	var out []string
	for _, v := range first {
		if slices.Contains(observed, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	rest := slices.Clone(observed)
	slices.SortFunc(rest, func(a, b string) int { return sluice.CompareTags(b, a) })
	for _, v := range rest {
		if len(out) == maxVersionsCharted {
			break
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
