package observe

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// Bucket boundaries. The gen_ai ones are those the OpenTelemetry GenAI
// semantic conventions advise for the same metrics, with bounds appended
// for the minutes a reasoning model may take: the advised ones stop at
// 81.92 s (duration) and 10 s (time to first token), while
// timeouts.request defaults to 10m and timeouts.first_byte to 120s, so a
// p99 over longer requests read as the last bound.
var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 163.84, 327.68, 655.36}
	ttftBuckets     = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 15, 30, 60, 120}
	tpotBuckets     = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
	tokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	charBuckets     = prometheus.ExponentialBuckets(16, 4, 10) // 16 to 4 Mi characters
)

// statusClasses names the class of an HTTP status by its hundreds digit;
// index 0 is for a status outside 100-599 (such as 0 when the client went
// away before a status was sent).
var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// statusClass returns the index in statusClasses of an HTTP status.
func statusClass(code int) uint8 {
	if code >= 100 && code < 600 {
		return uint8(code / 100)
	}
	return 0
}

// maxReqStats bounds the label combinations (status class, error class,
// route) kept per series. Beyond it the error class and route are exported
// as "other", so an unexpected spread of values cannot grow the metrics
// without bound.
const maxReqStats = 64

// hist is a histogram updated under its series' lock: plain adds, where a
// prometheus.Histogram would pay four atomic operations per observation.
type hist struct {
	bounds []float64
	counts []uint64 // per bucket (not cumulative); the +Inf bucket is count
	count  uint64
	sum    float64
}

func newHist(bounds []float64) hist {
	return hist{bounds: bounds, counts: make([]uint64, len(bounds))}
}

// observe adds v to the first bucket whose upper bound is at least v.
func (h *hist) observe(v float64) {
	lo, hi := 0, len(h.bounds)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.bounds[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(h.counts) {
		h.counts[lo]++
	}
	h.count++
	h.sum += v
}

// merge adds o's counts to h; both have the same bounds.
func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.count += o.count
	h.sum += o.sum
}

// clone returns a copy of h that shares only the bounds.
func (h *hist) clone() hist {
	c := *h
	c.counts = append([]uint64(nil), h.counts...)
	return c
}

// metric returns h as a constant Prometheus histogram.
func (h *hist) metric(desc *prometheus.Desc, labels ...string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(h.bounds))
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		buckets[b] = cum
	}
	return prometheus.MustNewConstHistogram(desc, h.count, h.sum, buckets, labels...)
}

// seriesStats are the metrics of a series, guarded by series.mu.
type seriesStats struct {
	ttft, tpot, inTokens, outTokens, chars hist
	refusals                               uint64
	// cacheHits and cacheMisses count the requests whose backend reported
	// its prefix cache; cachedTokens sums the cached prompt tokens.
	cacheHits, cacheMisses, cachedTokens uint64
	// toolCalls and toolTexts count the successful answers to requests
	// that offered tools: those that called one, and those that did not.
	toolCalls, toolTexts uint64
}

func newSeriesStats() seriesStats {
	return seriesStats{
		ttft:      newHist(ttftBuckets),
		tpot:      newHist(tpotBuckets),
		inTokens:  newHist(tokenBuckets),
		outTokens: newHist(tokenBuckets),
		chars:     newHist(charBuckets),
	}
}

// add counts o.
func (st *seriesStats) add(o *sluice.Observation) {
	// The tokens histograms hold what backends reported: the gateway's
	// estimate for an answer without usage (o.TokensEstimated) would pass
	// for a version's measured lengths and speed.
	measured := !o.TokensEstimated
	if o.ErrorClass == "" {
		if measured {
			st.inTokens.observe(float64(o.InputTokens))
			st.outTokens.observe(float64(o.OutputTokens))
		}
		st.chars.observe(float64(o.ResponseChars))
		if o.Stream && o.TTFT > 0 {
			st.ttft.observe(o.TTFT.Seconds())
			if measured && o.OutputTokens > 1 && o.Latency > o.TTFT {
				st.tpot.observe((o.Latency - o.TTFT).Seconds() / float64(o.OutputTokens-1))
			}
		}
	} else {
		// A failed request may still have used tokens; count what the
		// backend reported.
		if measured && o.InputTokens > 0 {
			st.inTokens.observe(float64(o.InputTokens))
		}
		if measured && o.OutputTokens > 0 {
			st.outTokens.observe(float64(o.OutputTokens))
		}
	}
	if o.Refusal {
		st.refusals++
	}
	if o.CacheReported {
		if o.CachedTokens > 0 {
			st.cacheHits++
			st.cachedTokens += uint64(o.CachedTokens)
		} else {
			st.cacheMisses++
		}
	}
	if o.ToolsOffered && o.ErrorClass == "" {
		if o.ToolCall {
			st.toolCalls++
		} else {
			st.toolTexts++
		}
	}
}

// reqKey is the part of the labels that varies from request to request.
type reqKey struct {
	status   uint8
	errClass string
	route    string
}

// reqStats are the metrics of one reqKey in a series, guarded by series.mu.
type reqStats struct {
	raw      reqKey // as observed
	key      reqKey // as exported: raw, or folded into "other"
	errIdx   uint8  // of raw.errClass
	duration hist
	requests uint64
}

// reqLocked returns the stats for o's status, error class and route, and
// the index of its error class for the window; s.mu is held. A series sees
// a handful of combinations, so a scan beats hashing two strings.
func (s *series) reqLocked(r *Recorder, o *sluice.Observation) (*reqStats, uint8) {
	status := statusClass(o.Status)
	for _, q := range s.reqs {
		if q.raw.status == status && q.raw.errClass == o.ErrorClass && q.raw.route == o.Route {
			return q, q.errIdx
		}
	}
	return s.addReqLocked(r, reqKey{status: status, errClass: o.ErrorClass, route: o.Route})
}

// addReqLocked adds the stats of k; s.mu is held. Beyond maxReqStats, k is
// folded into one shared entry, found by a scan each time, so a spread of
// labels costs time on the odd request instead of memory.
func (s *series) addReqLocked(r *Recorder, k reqKey) (*reqStats, uint8) {
	errIdx := r.internErrClass(k.errClass)
	folded := k
	if len(s.reqs) >= maxReqStats {
		folded.route = "other"
		if folded.errClass != "" {
			folded.errClass = "other"
		}
		for _, q := range s.reqs {
			if q.raw == folded {
				return q, errIdx
			}
		}
	}
	q := &reqStats{raw: folded, key: folded, errIdx: r.internErrClass(folded.errClass), duration: newHist(durationBuckets)}
	s.reqs = append(s.reqs, q)
	return q, errIdx
}

// collector exports the Recorder's series to Prometheus. It reads the stats
// at scrape time, so Record pays no atomic operation for the metrics.
type collector struct {
	r *Recorder

	duration, ttft, tpot, tokens, chars *prometheus.Desc
	requests, errors, refusals          *prometheus.Desc
	cacheRequests, cachedTokens         *prometheus.Desc
	toolRequests                        *prometheus.Desc
}

func newCollector(r *Recorder) *collector {
	base := []string{"model", "version", "category"}
	with := func(extra ...string) []string {
		return append(append([]string(nil), base...), extra...)
	}
	return &collector{
		r: r,
		duration: prometheus.NewDesc("gen_ai_server_request_duration_seconds",
			"Time from the arrival of a request to the last byte of its response, by status class and error type (empty on success).",
			with("status_class", "error_type"), nil),
		ttft: prometheus.NewDesc("gen_ai_server_time_to_first_token_seconds",
			"Time from the arrival of a successful streamed request to its first content chunk.", base, nil),
		tpot: prometheus.NewDesc("gen_ai_server_time_per_output_token_seconds",
			"Time per output token after the first, of successful streamed requests.", base, nil),
		tokens: prometheus.NewDesc("gen_ai_client_token_usage",
			"Tokens per request as reported by the backend, by token_type (input or output); the sum is the total used.",
			with("token_type"), nil),
		chars: prometheus.NewDesc("sluice_response_chars",
			"Length of the generated text of successful responses, in bytes of UTF-8 (a character of a non-Latin script counts 2 to 4).", base, nil),
		requests: prometheus.NewDesc("sluice_requests_total",
			"Requests served, by how the version was chosen (route) and status class.",
			with("route", "status_class"), nil),
		errors: prometheus.NewDesc("sluice_request_errors_total",
			"Requests that ended in an error, by error class (canceled included, though the canary analysis ignores it).",
			with("error_class"), nil),
		refusals: prometheus.NewDesc("sluice_refusals_total",
			"Responses whose text matched a refusal phrase.", base, nil),
		cacheRequests: prometheus.NewDesc("sluice_prompt_cache_requests_total",
			"Requests whose backend reported its prefix cache (usage.prompt_tokens_details.cached_tokens), by result: hit (some prompt tokens cached) or miss.",
			with("result"), nil),
		cachedTokens: prometheus.NewDesc("sluice_cached_prompt_tokens_total",
			"Prompt tokens the backends reported as served from their prefix cache; over the input tokens of gen_ai_client_token_usage, the token hit ratio.", base, nil),
		toolRequests: prometheus.NewDesc("sluice_tool_requests_total",
			"Successful answers to requests that offered tools (a non-empty tools or functions array), by result: call (the answer called a tool) or text; call over both is the tool-call rate.",
			with("result"), nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.duration, c.ttft, c.tpot, c.tokens, c.chars, c.requests, c.errors, c.refusals, c.cacheRequests, c.cachedTokens, c.toolRequests} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, ms := range *c.r.models.Load() {
		for _, s := range *ms.series.Load() {
			c.collectSeries(ch, s)
		}
	}
}

// collectSeries exports one series, copying its stats under its lock.
func (c *collector) collectSeries(ch chan<- prometheus.Metric, s *series) {
	type durKey struct {
		status   uint8
		errClass string
	}
	type reqCopy struct {
		key      reqKey
		duration hist
		requests uint64
	}
	s.mu.Lock()
	st := seriesStats{
		ttft: s.stats.ttft.clone(), tpot: s.stats.tpot.clone(),
		inTokens: s.stats.inTokens.clone(), outTokens: s.stats.outTokens.clone(),
		chars: s.stats.chars.clone(), refusals: s.stats.refusals,
		cacheHits: s.stats.cacheHits, cacheMisses: s.stats.cacheMisses, cachedTokens: s.stats.cachedTokens,
		toolCalls: s.stats.toolCalls, toolTexts: s.stats.toolTexts,
	}
	reqs := make([]reqCopy, len(s.reqs))
	for i, q := range s.reqs {
		reqs[i] = reqCopy{key: q.key, duration: q.duration.clone(), requests: q.requests}
	}
	s.mu.Unlock()

	m, v, cat := s.model, s.version, s.category
	ch <- st.ttft.metric(c.ttft, m, v, cat)
	ch <- st.tpot.metric(c.tpot, m, v, cat)
	ch <- st.inTokens.metric(c.tokens, m, v, cat, "input")
	ch <- st.outTokens.metric(c.tokens, m, v, cat, "output")
	ch <- st.chars.metric(c.chars, m, v, cat)
	ch <- prometheus.MustNewConstMetric(c.refusals, prometheus.CounterValue, float64(st.refusals), m, v, cat)
	if st.cacheHits+st.cacheMisses > 0 {
		ch <- prometheus.MustNewConstMetric(c.cacheRequests, prometheus.CounterValue, float64(st.cacheHits), m, v, cat, "hit")
		ch <- prometheus.MustNewConstMetric(c.cacheRequests, prometheus.CounterValue, float64(st.cacheMisses), m, v, cat, "miss")
		ch <- prometheus.MustNewConstMetric(c.cachedTokens, prometheus.CounterValue, float64(st.cachedTokens), m, v, cat)
	}
	if st.toolCalls+st.toolTexts > 0 {
		ch <- prometheus.MustNewConstMetric(c.toolRequests, prometheus.CounterValue, float64(st.toolCalls), m, v, cat, "call")
		ch <- prometheus.MustNewConstMetric(c.toolRequests, prometheus.CounterValue, float64(st.toolTexts), m, v, cat, "text")
	}

	// The duration has no route label and the errors neither route nor
	// status: sum over what they leave out.
	durs := map[durKey]*hist{}
	counts := map[reqKey]uint64{} // by route and status only
	errs := map[string]uint64{}
	for i := range reqs {
		q := &reqs[i]
		dk := durKey{q.key.status, q.key.errClass}
		if h := durs[dk]; h != nil {
			h.merge(&q.duration)
		} else {
			durs[dk] = &q.duration
		}
		counts[reqKey{status: q.key.status, route: q.key.route}] += q.requests
		if q.key.errClass != "" {
			errs[q.key.errClass] += q.requests
		}
	}
	for dk, h := range durs {
		ch <- h.metric(c.duration, m, v, cat, statusClasses[dk.status], dk.errClass)
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(n),
			m, v, cat, k.route, statusClasses[k.status])
	}
	for class, n := range errs {
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(n), m, v, cat, class)
	}
}
