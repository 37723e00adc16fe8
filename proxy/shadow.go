package proxy

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/judge"
	"github.com/sluicehq/sluice/route"
)

// RouteShadow is the Observation.Route of a mirrored request's answer from
// the candidate. Such observations go to the Recorder (so the analysis
// compares the candidate's shadow answers with the baseline's live ones),
// never to the request log: no client saw them.
const RouteShadow = "shadow"

// ShadowHeader is set to "true" on mirrored requests, so a backend can tell
// them from live ones; the proxy does not forward it from clients.
const ShadowHeader = "X-Sluice-Shadow"

// shadowRule mirrors a fraction of a model's requests to a candidate. A
// rule is immutable; SetShadow replaces it. Its context ends when the shadow
// stops or moves to another candidate, which skips the queued requests and
// cancels the ones in progress.
type shadowRule struct {
	model     string
	candidate string // full version id
	fraction  float64
	ctx       context.Context
	cancel    context.CancelFunc
}

// shadowJob is one mirrored request waiting for a worker. It owns copies of
// the request's body and headers: the originals belong to the finished
// client request.
type shadowJob struct {
	rule     *shadowRule
	reqID    string
	path     string
	header   http.Header
	body     []byte
	category string
	judged   bool
	primary  ShadowSide
	// link is the span context of the request mirrored (its SERVER
	// span), which the mirror's span links to; zero when tracing is off.
	link trace.SpanContext
}

// shadowState is the mirroring machinery of a Proxy.
type shadowState struct {
	// rules maps a model name to its rule; copied on write under mu and
	// nil when no model is mirrored, so the request path pays one atomic
	// load when shadowing is off.
	rules atomic.Pointer[map[string]*shadowRule]
	// mu serialises SetShadow and Close; closed is set by Close.
	mu     sync.Mutex
	closed bool

	queue chan *shadowJob
	done  chan struct{}
	start sync.Once
	wg    sync.WaitGroup

	mirrored, dropped, completed, skipped atomic.Int64
	// queuedBytes is the size of the request bodies queued, bounded by
	// maxShadowQueueBytes: the queue's length alone let a slow candidate
	// and long prompts hold gigabytes.
	queuedBytes atomic.Int64

	pairs pairRing
}

// maxShadowQueueBytes bounds the request bodies waiting to be mirrored; a
// request that would pass it is dropped (counted as dropped).
const maxShadowQueueBytes = 64 << 20

func (s *shadowState) init(queue, pairs int) {
	s.queue = make(chan *shadowJob, queue)
	s.done = make(chan struct{})
	s.pairs.size = pairs
}

// pick returns the rule that mirrors a request served by t, after the
// fraction's draw, or nil.
func (s *shadowState) pick(t *route.Target) *shadowRule {
	m := s.rules.Load()
	if m == nil {
		return nil
	}
	r := (*m)[t.Model]
	if r == nil || r.candidate == t.ID {
		return nil
	}
	if r.fraction < 1 && rand.Float64() >= r.fraction {
		return nil
	}
	return r
}

// SetShadow mirrors a fraction (0 to 1) of the requests for model that are
// served by a version other than candidateID (a full id, "chat:v1.3.0") to
// that candidate; fraction 0 stops mirroring the model. Changing the
// candidate or stopping skips the mirrored requests still queued and cancels
// those in progress. It implements rollout.Shadower.
//
// Every inference endpoint is mirrored, embeddings included (their pairs
// compare latency and errors only). Mirroring happens after the client has
// its whole answer, on a bounded
// pool of workers (Options.ShadowWorkers) fed by a bounded queue
// (Options.ShadowQueue) that drops rather than waits. A mirrored request is
// sent as the client sent it (streamed when the client asked for a stream,
// so the candidate's time to first token is measured), with the
// candidate's upstream model name and the ShadowHeader; its answer is read
// and discarded, recorded as an observation of the candidate with route
// RouteShadow, scored like a live answer, and compared with the live answer
// in a ShadowPair.
func (p *Proxy) SetShadow(model, candidateID string, fraction float64) {
	s := &p.shadow
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	var old map[string]*shadowRule
	if m := s.rules.Load(); m != nil {
		old = *m
	}
	prev := old[model]
	next := make(map[string]*shadowRule, len(old)+1)
	for k, v := range old {
		if k != model {
			next[k] = v
		}
	}
	if fraction > 0 && !math.IsNaN(fraction) && candidateID != "" {
		r := &shadowRule{model: model, candidate: candidateID, fraction: min(fraction, 1)}
		if prev != nil && prev.candidate == candidateID {
			r.ctx, r.cancel = prev.ctx, prev.cancel
		} else {
			r.ctx, r.cancel = context.WithCancel(context.Background())
			if prev != nil {
				prev.cancel()
			}
		}
		next[model] = r
		s.start.Do(p.startShadow)
	} else if prev != nil {
		prev.cancel()
	}
	if len(next) == 0 {
		s.rules.Store(nil)
	} else {
		s.rules.Store(&next)
	}
}

// Shadow returns the candidate and fraction model is mirrored to, or "" and
// 0 when it is not.
func (p *Proxy) Shadow(model string) (candidateID string, fraction float64) {
	if m := p.shadow.rules.Load(); m != nil {
		if r := (*m)[model]; r != nil {
			return r.candidate, r.fraction
		}
	}
	return "", 0
}

// ShadowStats counts mirrored requests.
type ShadowStats struct {
	// Mirrored counts the requests queued for mirroring.
	Mirrored int64 `json:"mirrored"`
	// Dropped counts the requests chosen for mirroring that found the
	// queue full (sluice_shadow_dropped_total).
	Dropped int64 `json:"dropped"`
	// Completed counts the mirrored requests whose answer was recorded.
	Completed int64 `json:"completed"`
	// Skipped counts the queued requests not sent, or cancelled, because
	// the shadow stopped or the candidate was no longer routable.
	Skipped int64 `json:"skipped"`
	// Queued is how many wait for a worker now.
	Queued int `json:"queued"`
}

// ShadowStats returns the mirroring counts so far.
func (p *Proxy) ShadowStats() ShadowStats {
	s := &p.shadow
	return ShadowStats{
		Mirrored: s.mirrored.Load(), Dropped: s.dropped.Load(), Completed: s.completed.Load(),
		Skipped: s.skipped.Load(), Queued: len(s.queue),
	}
}

// Close stops mirroring for good: it cancels the mirrored requests in
// progress, abandons the queued ones and waits for the shadow workers to
// end; later SetShadow calls do nothing. The Proxy still serves live
// requests.
func (p *Proxy) Close() {
	s := &p.shadow
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
		if m := s.rules.Load(); m != nil {
			for _, r := range *m {
				r.cancel()
			}
		}
		s.rules.Store(nil)
	}
	s.mu.Unlock()
	// SetShadow starts workers only under mu and not once closed, so
	// none is added while this waits.
	s.wg.Wait()
}

func (p *Proxy) startShadow() {
	s := &p.shadow
	for range p.opt.ShadowWorkers {
		s.wg.Go(func() {
			for {
				select {
				case <-s.done:
					return
				case j := <-s.queue:
					s.queuedBytes.Add(-int64(len(j.body)))
					p.runShadow(j)
				}
			}
		})
	}
}

// enqueueShadow queues the mirror of x, whose live answer obs describes,
// or drops it when the queue is full.
func (p *Proxy) enqueueShadow(x *exchange, obs *sluice.Observation) {
	n := int64(len(x.body))
	if p.shadow.queuedBytes.Add(n) > maxShadowQueueBytes {
		p.shadow.queuedBytes.Add(-n)
		p.shadow.dropped.Add(1)
		return
	}
	j := &shadowJob{
		rule: x.keep.mirror, reqID: x.reqID, path: x.r.URL.Path, header: x.r.Header.Clone(), body: bytes.Clone(x.body),
		category: x.category, judged: x.keep.judged, primary: sideOf(obs, x.keptText(pairTextBytes), x.keep.calls.list()),
		link: x.spanContext(),
	}
	select {
	case p.shadow.queue <- j:
		p.shadow.mirrored.Add(1)
	default:
		p.shadow.queuedBytes.Add(-n)
		p.shadow.dropped.Add(1)
	}
}

// runShadow sends one mirrored request to the candidate through the same
// rewrite, send and relay code as a live request, into a writer that
// discards the answer.
func (p *Proxy) runShadow(j *shadowJob) {
	s := &p.shadow
	t := p.opt.Routes.Load().Target(j.rule.candidate)
	if t == nil {
		s.skipped.Add(1)
		return
	}
	// Counted in flight before the shadow is checked, as decide does for a
	// live request: a rollback stops the shadow, then its drain (or the
	// beat that publishes this replica's counts to the fleet's) reads the
	// candidate's count. A mirror that checked first and counted after
	// that read went to a candidate being unloaded (the own client writes
	// on a kept-alive connection whatever the context says).
	n := p.inflight.counter(t.ID)
	n.Add(1)
	// Counted apart too, so that a drain that runs out of time tells the
	// mirrors, which no client waits on, from the clients' requests
	// (InFlightMirrors).
	m := p.mirrors.counter(t.ID)
	m.Add(1)
	defer m.Add(-1)
	if j.rule.ctx.Err() != nil {
		n.Add(-1)
		s.skipped.Add(1)
		return
	}
	// The rule's context stands for the client's: it ends when the shadow
	// stops, which relay reports as canceled; the timeout is apart, so that
	// a candidate too slow to answer counts as a timeout.
	ctx, cancel := context.WithTimeout(j.rule.ctx, p.opt.RequestTimeout)
	defer cancel()
	r := (&http.Request{Method: http.MethodPost, URL: &url.URL{Path: j.path}, Header: j.header}).WithContext(j.rule.ctx)
	now := p.opt.Now()
	x := &exchange{
		w: &discardWriter{h: http.Header{}}, r: r, reqID: j.reqID, start: now, sent: now,
		body: j.body, f: mirroredFields(j), category: j.category,
		keep: &keep{limit: pairTextBytes, judged: j.judged, shadow: true},
	}
	x.f.forPath(j.path)
	if j.judged {
		x.keep.limit = judgeTextBytes
	}
	obs := sluice.Observation{
		RequestID: j.reqID, At: x.start, Model: t.Model, Version: t.Version, Route: RouteShadow,
		Category: j.category, Endpoint: j.path, Stream: x.f.stream, ToolsOffered: x.f.toolsOffered,
	}
	x.tr = p.shadowSpans(j.path, j.link)
	resp, class, err := p.attempt(ctx, x, t, RouteShadow)
	p.relay(x, t, resp, class, err, &obs)
	x.tr.endAttempt(x, t, &obs)
	n.Add(-1)
	x.releaseEndpoint()
	if obs.ErrorClass == "canceled" {
		s.skipped.Add(1)
		return
	}
	if p.opt.Recorder != nil {
		p.opt.Recorder.Record(&obs)
	}
	if scorable(&obs) {
		p.scoreHeuristic(&obs, obs.ToolCall)
		if j.judged {
			p.opt.Judge.Submit(judge.Item{
				RequestID: j.reqID, Model: obs.Model, Version: obs.Version, Category: obs.Category, Route: obs.Route,
				Prompt: promptText(j.body, x.f.responses), Answer: x.keptText(judgeTextBytes), At: obs.At, Shadow: true,
			})
		}
	}
	kept := s.pairs.add(newPair(j, &obs, promptText(j.body, x.f.responses), x.keptText(pairTextBytes), x.keep.calls.list()))
	if p.opt.OnShadowPair != nil {
		p.opt.OnShadowPair(kept)
	}
	s.completed.Add(1)
}

// discardWriter is the ResponseWriter of a mirrored request: it keeps the
// headers and status the relay sets and drops the body.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) Flush()                      {}

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// mirroredFields reads a mirrored request's body again, as parse read
// the live request's: a form (an image edit's, a transcription's) by its
// parts, else as JSON.
func mirroredFields(j *shadowJob) fields {
	if ct := j.header.Get("Content-Type"); isFormPath(j.path) && isForm(ct) {
		if f, err := readFormFields(j.body, ct); err == nil {
			return f
		}
	}
	return readFields(j.body)
}
