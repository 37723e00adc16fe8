package observe

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
)

// entry is one observation as a window keeps it: 32 bytes.
type entry struct {
	at        int64   // arrival, Unix nanoseconds
	latency   float32 // milliseconds
	ttft      float32 // milliseconds
	outTokens int32
	chars     int32
	// conv is the conversation the request belongs to
	// (sluice.Observation.Conversation; 0 for none): Sample.Conversations
	// groups by it. It fills 4 of the 5 bytes of padding the entry had;
	// an older replica's Batch decodes it as 0, each request its own.
	conv   uint32
	flags  uint8
	errIdx uint8 // index into Recorder.errClasses; 0 on success
	// nonRandom is set when the request's version was not assigned at
	// random by the model's split (see randomized; a turn of a
	// conversation the split began is the split's): the analysis of a
	// split leaves it out (Recorder.Randomized). Its zero value is what
	// an older replica's Batch, which lacks the field, decodes to: such
	// observations count as randomized, as every observation did before.
	nonRandom bool
}

// Flags of an entry. The eight bits of the byte are all taken: another
// flag needs a field of its own (the Batch encoding carries it by name).
const (
	flagFailed        uint8 = 1 << iota // Observation.Failed
	flagRefusal                         // Observation.Refusal
	flagStream                          // Observation.Stream
	flagRetried                         // Observation.Retried
	flagCacheReported                   // Observation.CacheReported
	flagCacheHit                        // Observation.CachedTokens > 0
	flagToolsOffered                    // Observation.ToolsOffered
	flagToolCall                        // Observation.ToolCall
)

// newEntry packs o, which arrived at at (Unix nanoseconds); the caller sets
// errIdx.
func newEntry(at int64, o *sluice.Observation) entry {
	e := entry{
		at:        at,
		latency:   float32(float64(o.Latency) / 1e6),
		ttft:      float32(float64(o.TTFT) / 1e6),
		outTokens: clamp32(o.OutputTokens),
		chars:     o.ResponseChars,
		conv:      o.Conversation,
		nonRandom: !randomized(o.Route) && !o.SplitConversation,
	}
	if o.TokensEstimated {
		// The gateway's estimate (the text's bytes over 4) is no
		// measure of a version's output: the analysis reads what it
		// read before estimates existed, no tokens. Only a success
		// reaches the token metric; a cut stream is canceled or broken.
		e.outTokens = 0
	}
	if o.Failed() {
		e.flags |= flagFailed
	}
	if o.Refusal {
		e.flags |= flagRefusal
	}
	if o.Stream {
		e.flags |= flagStream
	}
	if o.Retried {
		e.flags |= flagRetried
	}
	if o.CacheReported {
		e.flags |= flagCacheReported
		if o.CachedTokens > 0 {
			e.flags |= flagCacheHit
		}
	}
	if o.ToolsOffered {
		e.flags |= flagToolsOffered
	}
	if o.ToolCall {
		e.flags |= flagToolCall
	}
	return e
}

// routeSplit is the Observation.Route of a request whose version the
// model's weighted split chose (route.RouteSplit; observe does not import
// route).
const routeSplit = "split"

// randomized reports whether a request routed by route was assigned its
// version at random, as one arm of an experiment: by the model's split
// (the sticky hash of a key or a random bucket), whose arms get the same
// users, prompts and lengths in the same proportions. The other routes
// choose the version on purpose, for traffic unlike the rest: a pin, a
// label or the force header (a QA suite, a team trying the candidate), a
// rule (a segment of users), a retry on stable of a request another
// version failed, a mirrored request, a conversation continued on the
// version that began it, unless the split began it (a turn the split's
// draw placed: sluice.Observation.SplitConversation, which newEntry reads
// beside the route). An empty route (an observation that did not come
// through the proxy, which always sets it) counts as randomized.
func randomized(route string) bool {
	return route == routeSplit || route == ""
}

// SplitRouted reports whether a request routed by route
// (sluice.Observation.Route) had its version assigned at random by the
// split, as Randomized counts it: "split", or "" (none given).
func SplitRouted(route string) bool { return randomized(route) }

// clamp32 narrows n to an int32, saturating.
func clamp32(n int) int32 {
	return int32(max(min(n, math.MaxInt32), math.MinInt32))
}

// Counts are the request counts of a window or of a series' lifetime.
type Counts struct {
	// Requests is every observation but those DrainCut and BadRequest
	// count.
	Requests int64 `json:"requests"`
	// DrainCut is the observations the gateway's shutdown cut off
	// (sluice.ClassDrainCut), counted apart from Requests: neither a
	// failure of the version nor a client that gave up, they leave the
	// error rate and the cancel rate the analysis compares as they were.
	DrainCut int64 `json:"drain_cut,omitempty"`
	// BadRequest is the attempts whose backend refused a request body
	// that is not JSON (sluice.ClassBadRequest), counted apart from
	// Requests as DrainCut is: a client's mistake is no measure of the
	// version, whichever version its request reached.
	BadRequest int64 `json:"bad_request,omitempty"`
	// Succeeded is the observations without an error class.
	Succeeded int64 `json:"succeeded"`
	// Errors is the observations that count as failures of the version
	// (sluice.Observation.Failed: an error class other than canceled).
	Errors int64 `json:"errors"`
	// Refusals is the successful observations whose text matched a
	// refusal phrase.
	Refusals int64 `json:"refusals"`
	// Retried is the failed attempts the request was sent again after (to
	// the stable version, or another endpoint of the same version).
	Retried int64 `json:"retried"`
	// CacheReported is the observations whose backend reported its prefix
	// cache (usage.prompt_tokens_details.cached_tokens); CacheHits those of
	// them with any prompt token served from the cache. CacheHits over
	// CacheReported is the cache hit rate.
	CacheReported int64 `json:"cache_reported,omitempty"`
	CacheHits     int64 `json:"cache_hits,omitempty"`
	// ToolAnswers is the successful observations whose request offered
	// tools (sluice.Observation.ToolsOffered); ToolCalls those of them whose
	// answer called a tool. ToolCalls over ToolAnswers is the tool-call
	// rate. Observations from a build that did not record tools (a batch of
	// an older replica) count in neither.
	ToolAnswers int64 `json:"tool_answers,omitempty"`
	ToolCalls   int64 `json:"tool_calls,omitempty"`
}

// Canceled is the observations whose client left before the answer: those
// with an error class that is not a failure of the version.
func (c Counts) Canceled() int64 { return max(c.Requests-c.Succeeded-c.Errors, 0) }

// entries is how many observations were counted: Requests, DrainCut and
// BadRequest.
func (c Counts) entries() int64 { return c.Requests + c.DrainCut + c.BadRequest }

// add counts e.
func (c *Counts) add(e *entry) {
	switch e.errIdx {
	case drainCutIdx:
		c.DrainCut++
		return
	case badRequestIdx:
		c.BadRequest++
		return
	}
	c.Requests++
	if e.errIdx == 0 {
		c.Succeeded++
	}
	if e.flags&flagFailed != 0 {
		c.Errors++
	}
	if e.errIdx == 0 && e.flags&flagRefusal != 0 {
		// Over the successful requests, as the refusal rate divides: a
		// stream broken off after a refusal's first words is an error (or
		// a cancel), counted there (its request log row still says
		// refusal).
		c.Refusals++
	}
	if e.flags&flagRetried != 0 {
		c.Retried++
	}
	if e.flags&flagCacheReported != 0 {
		c.CacheReported++
		if e.flags&flagCacheHit != 0 {
			c.CacheHits++
		}
	}
	if e.errIdx == 0 && e.flags&flagToolsOffered != 0 {
		c.ToolAnswers++
		if e.flags&flagToolCall != 0 {
			c.ToolCalls++
		}
	}
}

// Sample is the part of a window at or after a point in time, ready for the
// statistics. The slices are fresh copies the caller may sort or keep; they
// hold successful observations only (no error class), since the latency of a
// failure measures the failure (a timeout, a refused connection) and is
// already counted in Errors.
type Sample struct {
	Counts
	// ErrorClasses counts the observations of each error class (canceled
	// included); nil when there are none.
	ErrorClasses map[string]int64 `json:"error_classes,omitempty"`
	// Latency is the time to the last byte, in milliseconds.
	Latency []float64 `json:"latency_ms"`
	// TTFT is the time to the first content chunk of streams, in
	// milliseconds.
	TTFT []float64 `json:"ttft_ms"`
	// OutputTokens and ResponseChars are the sizes of the responses.
	OutputTokens  []float64 `json:"output_tokens"`
	ResponseChars []float64 `json:"response_chars"`
	// First and Last are the earliest and latest arrival among the
	// observations; zero when there are none.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Quality holds the quality scores in [0, 1] given at or after since,
	// from every source, in time order (Recorder.RecordQualityFrom);
	// QualityBySource holds the same scores split by source (feedback,
	// heuristic, judge, other). Both are nil when there are none. The scores
	// are kept apart from the observations, in a window of their own of the
	// same size.
	Quality         []float64            `json:"quality,omitempty"`
	QualityBySource map[string][]float64 `json:"quality_by_source,omitempty"`
	// Truncated is true when observations at or after since were
	// overwritten because the window is full: the sample then covers only
	// the most recent Options.WindowSize observations, from First on.
	Truncated bool `json:"truncated,omitempty"`
	// Total counts every observation of the series since it was first seen
	// (or forgotten), regardless of since and of the window size.
	Total Counts `json:"total"`
	// NotRandomized counts, in a Sample read by Randomized, the
	// observations at or after since that were left out because their
	// version was chosen on purpose (a pin, a label, the force header, a
	// rule, a retry, a mirror, a continued response of a conversation the
	// split did not begin), not by the split.
	// It is zero in a Sample read by Window or Between, which keep them.
	NotRandomized int64 `json:"not_randomized,omitempty"`
	// Conversations holds the Counts of each Responses conversation with
	// two requests or more in the sample (sluice.Observation.Conversation),
	// in the order of their first request; every other request is a
	// conversation of its own. A conversation's turns are not independent
	// samples (a candidate that loses a conversation's state fails all of
	// its turns): the analysis counts each as one cluster
	// (stats.ClusteredRate). Nil when there is none.
	Conversations []Counts `json:"conversations,omitempty"`
}

// window is a bounded window of the most recent entries of a series. It has
// no lock of its own: series.mu or ring.mu guards it.
type window struct {
	buf  []entry // grows to size, then wraps
	next int     // where the next entry goes once buf is full
	size int
	// evicted is the latest arrival among overwritten entries, so a query
	// knows whether the window still reaches back to its since.
	evicted int64
	total   Counts
}

func newWindow(size int) window {
	return window{size: size, evicted: math.MinInt64}
}

// add appends e, overwriting the oldest entry when the window is full.
func (w *window) add(e *entry) {
	if len(w.buf) < w.size {
		w.buf = append(w.buf, *e)
	} else {
		w.evicted = max(w.evicted, w.buf[w.next].at)
		w.buf[w.next] = *e
		w.next++
		if w.next == len(w.buf) {
			w.next = 0
		}
	}
	w.total.add(e)
}

// snapshot is a copy of a window, taken under its lock so that the work of
// a query happens outside it and Record waits only for a memmove.
type snapshot struct {
	buf     []entry
	evicted int64
	total   Counts
}

func (w *window) snapshot() snapshot {
	return snapshot{buf: slices.Clone(w.buf), evicted: w.evicted, total: w.total}
}

// ring is a window with its own lock: the window of a version across its
// categories, shared by the version's series.
type ring struct {
	mu sync.Mutex
	w  window
}

func newRing(size int) *ring {
	return &ring{w: newWindow(size)}
}

func (g *ring) add(e *entry) {
	g.mu.Lock()
	g.w.add(e)
	g.mu.Unlock()
}

// sample returns the entries at or after since and before until (Unix
// nanoseconds) as a Sample; classes names the error class indexes. With
// randomOnly, entries whose version was not assigned at random are left
// out and counted in NotRandomized.
func (snap *snapshot) sample(since, until int64, classes []string, randomOnly bool) Sample {
	buf := snap.buf
	var s Sample
	s.Total = snap.total
	s.Truncated = snap.evicted != math.MinInt64 && snap.evicted >= since
	var streams int
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	var convs map[uint32]int // conversation → its index in s.Conversations
	for i := range buf {
		e := &buf[i]
		if e.at < since || e.at >= until {
			continue
		}
		if randomOnly && e.nonRandom {
			s.NotRandomized++
			continue
		}
		s.add(e)
		if e.conv != 0 {
			j, ok := convs[e.conv]
			if !ok {
				if convs == nil {
					convs = map[uint32]int{}
				}
				j = len(s.Conversations)
				convs[e.conv] = j
				s.Conversations = append(s.Conversations, Counts{})
			}
			s.Conversations[j].add(e)
		}
		if e.errIdx != 0 {
			if s.ErrorClasses == nil {
				s.ErrorClasses = map[string]int64{}
			}
			s.ErrorClasses[classes[e.errIdx]]++
		} else if e.flags&flagStream != 0 {
			streams++
		}
		first, last = min(first, e.at), max(last, e.at)
	}
	// A conversation of one request in the sample is a request of its own.
	s.Conversations = slices.DeleteFunc(s.Conversations, func(c Counts) bool { return c.Requests < 2 })
	if len(s.Conversations) == 0 {
		s.Conversations = nil
	}
	if s.Requests == 0 {
		return s
	}
	s.First, s.Last = time.Unix(0, first), time.Unix(0, last)
	s.Latency = make([]float64, 0, s.Succeeded)
	s.TTFT = make([]float64, 0, streams)
	s.OutputTokens = make([]float64, 0, s.Succeeded)
	s.ResponseChars = make([]float64, 0, s.Succeeded)
	for i := range buf {
		e := &buf[i]
		if e.at < since || e.at >= until || e.errIdx != 0 || (randomOnly && e.nonRandom) {
			continue
		}
		s.Latency = append(s.Latency, float64(e.latency))
		if e.flags&flagStream != 0 {
			s.TTFT = append(s.TTFT, float64(e.ttft))
		}
		s.OutputTokens = append(s.OutputTokens, float64(e.outTokens))
		s.ResponseChars = append(s.ResponseChars, float64(e.chars))
	}
	return s
}

// unixNanos returns t in Unix nanoseconds, with the zero time as the
// earliest instant rather than the undefined value UnixNano gives it.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// Window returns the observations of a version of a model that arrived at or
// after since (the zero time for all that are kept). Category "" means every
// category; NoCategory selects the observations that had none. An unknown
// model, version or category gives an empty Sample.
func (r *Recorder) Window(model, version, category string, since time.Time) Sample {
	return r.Between(model, version, category, since, time.Time{})
}

// Between is Window with an end: only observations that arrived before
// until count (the zero until sets no end). The dashboard reads the fleet's
// windows this way, ending where every replica's observations have arrived.
func (r *Recorder) Between(model, version, category string, since, until time.Time) Sample {
	return r.between(model, version, category, since, until, false)
}

// Randomized is Window over the observations and quality scores of
// requests whose version the model's split assigned at random (Route
// "split", or none said: see randomized); those of requests routed to the
// version on purpose are left out and counted in NotRandomized. The
// canary analysis compares a split's two arms on these: only the split
// fills both arms from the same traffic, so a QA suite pinned to the
// candidate, or a rule sending one segment of users to it, does not pass
// for a difference between the versions.
func (r *Recorder) Randomized(model, version, category string, since time.Time) Sample {
	return r.between(model, version, category, since, time.Time{}, true)
}

// RandomizedBetween is Randomized with an end: only the requests (and the
// scores of requests) at or after since and before until count. An A/B
// test's report reads its sample this way while it waits for users'
// feedback, as a score is stamped with its request's time.
func (r *Recorder) RandomizedBetween(model, version, category string, since, until time.Time) Sample {
	return r.between(model, version, category, since, until, true)
}

// between is Between, and Randomized when randomOnly is set.
func (r *Recorder) between(model, version, category string, since, until time.Time, randomOnly bool) Sample {
	var s Sample
	from, to := unixNanos(since), untilNanos(until)
	if snap, ok := r.snapshot(model, version, category); ok {
		s = snap.sample(from, to, *r.errClasses.Load(), randomOnly)
	}
	r.addQuality(&s, model, version, category, from, to, randomOnly)
	return s
}

// untilNanos returns until in Unix nanoseconds, with the zero time as no
// end.
func untilNanos(until time.Time) int64 {
	if until.IsZero() {
		return math.MaxInt64
	}
	return until.UnixNano()
}

// snapshot copies the window of (model, version, category); ok is false
// when there is none.
func (r *Recorder) snapshot(model, version, category string) (snap snapshot, ok bool) {
	ms := (*r.models.Load())[model]
	if ms == nil {
		return snapshot{}, false
	}
	if category == "" {
		r.mu.Lock()
		g := ms.versions[version]
		r.mu.Unlock()
		if g == nil {
			return snapshot{}, false
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.w.snapshot(), true
	}
	s := (*ms.series.Load())[seriesKey{version, category}]
	if s == nil {
		return snapshot{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.snapshot(), true
}

// Categories returns the categories seen for a model, across its versions,
// sorted. It includes NoCategory and OtherCategory once they are used.
func (r *Recorder) Categories(model string) []string {
	ms := (*r.models.Load())[model]
	if ms == nil {
		return nil
	}
	cats := *ms.cats.Load()
	out := make([]string, 0, len(cats))
	for c := range cats {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// Versions returns the versions of a model that have a window, sorted.
func (r *Recorder) Versions(model string) []string {
	ms := (*r.models.Load())[model]
	if ms == nil {
		return nil
	}
	r.mu.Lock()
	out := make([]string, 0, len(ms.versions))
	for v := range ms.versions {
		out = append(out, v)
	}
	r.mu.Unlock()
	slices.Sort(out)
	return out
}

// Units returns the independent samples among requests of which convs
// (Sample.Conversations) are conversations: each conversation once, each
// other request once. min_samples counts these.
func Units(requests int64, convs []Counts) int64 {
	n := requests
	for i := range convs {
		n -= convs[i].Requests - 1
	}
	return max(n, min(requests, 1))
}
