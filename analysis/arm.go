package analysis

import (
	"slices"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/stats"
)

// Arm is what one version did over the analysed window: request counts and
// the distributions of its successful answers.
type Arm struct {
	// Requests counts every request; Errors those that failed (an error
	// class other than canceled); Refusals the answers that were refusals.
	Requests, Errors, Refusals int
	// Canceled counts the requests whose client left before the answer
	// (neither failures nor answers). They are compared as a rate of their
	// own (cancel_rate, over Requests) and left out of the other rates'
	// denominators, so that clients giving up on a version cannot dilute
	// its error or refusal rate.
	Canceled int
	// CacheReported counts the requests whose backend reported its prefix
	// cache, CacheHits those of them with cached prompt tokens; zero
	// CacheReported leaves the cache out of the analysis.
	CacheReported, CacheHits int
	// ToolAnswers counts the answers to requests that offered tools,
	// ToolCalls those of them that called a tool; zero ToolAnswers leaves
	// the tool-call rate out of the analysis.
	ToolAnswers, ToolCalls int
	// Latency and TTFT are in milliseconds; TTFT covers streamed answers
	// only. OutputTokens and ResponseChars are the answers' lengths. All
	// hold successful requests only.
	Latency, TTFT, OutputTokens, ResponseChars []float64
	// Quality holds quality scores in [0, 1] for the requests that have
	// one (user feedback, a judge); empty leaves quality out of the
	// analysis.
	Quality []float64
	// QualityBySource holds the same scores split by their source
	// (feedback, heuristic, judge, other: observe.Sample.QualityBySource).
	// The A/B report compares each source on its own row (ABMetric.Source);
	// nil compares Quality as one row. Analyze compares Quality, and, when
	// the arms have scores from two sources or more, each source on its
	// own as a guard (sluice.MetricVerdict.Source).
	QualityBySource map[string][]float64
	// Conversations holds the counts of each Responses conversation of two
	// requests or more among Requests (observe.Sample.Conversations): the
	// rates are tested on counts corrected for them, and min_samples
	// counts each once (see cluster.go). Nil counts every request as
	// independent.
	Conversations []observe.Counts
	// Sorted promises that Latency and TTFT are in ascending order with no
	// NaNs, as the simulator keeps them; Analyze then reads their order
	// statistics in place instead of sorting copies. FromSample leaves it
	// false. A false promise gives wrong answers.
	Sorted bool
	// Running, when set, carries the sums behind the means of
	// OutputTokens, ResponseChars and Quality from one analysis to the
	// next, for a caller that analyses a window which only ever grows at
	// its end, as the simulator does: Analyze then sums only the values
	// appended since the last look, and the means and variances are the
	// same, to the last bit, as summing the slices afresh. Nil sums every
	// value at every look, as FromSample leaves it. Keep one Running per
	// Arm, do not share it between analyses running at once, and start a
	// new one when the slices are cut or changed other than by appending
	// (a shorter slice or another first value starts afresh on its own).
	Running *Running
}

// Running holds the running sums of an Arm's means between analyses (see
// Arm.Running). The zero value is ready to use.
type Running struct {
	tokens, chars, quality momentSums
}

// FromSample converts an observation window into an Arm. Quality is left
// empty until the gateway records scores.
func FromSample(s observe.Sample) Arm {
	return Arm{
		Requests:      int(s.Requests),
		Errors:        int(s.Errors),
		Refusals:      int(s.Refusals),
		Canceled:      int(max(s.Requests-s.Succeeded-s.Errors, 0)),
		CacheReported: int(s.CacheReported),
		CacheHits:     int(s.CacheHits),
		ToolAnswers:   int(s.ToolAnswers),
		ToolCalls:     int(s.ToolCalls),
		Latency:       s.Latency,
		TTFT:          s.TTFT,
		OutputTokens:  s.OutputTokens,
		ResponseChars: s.ResponseChars,
		// Every quality signal the gateway has: the heuristic score of
		// each answer by default, users' feedback and judge grades when
		// they arrive.
		Quality:         s.Quality,
		QualityBySource: s.QualityBySource,
		Conversations:   s.Conversations,
	}
}

// Pair is the baseline and the candidate on the same slice of traffic.
type Pair struct {
	Baseline, Candidate Arm
}

// Input is what Analyze compares: both versions on all traffic since the
// candidate went live, and on each request category. A nil Categories map
// means no breakdown.
type Input struct {
	Baseline, Candidate Arm
	Categories          map[string]Pair
}

// The defaults of an AnalysisSpec, as documented on sluice.AnalysisSpec.
const (
	DefaultInterval       = 10 * time.Second
	DefaultAlpha          = 0.05
	DefaultMinSamples     = 100
	DefaultFailChecks     = 2
	DefaultErrorRateRel   = 0.5
	DefaultErrorRateAbs   = 0.005
	DefaultCancelRateRel  = 0.5
	DefaultCancelRateAbs  = 0.01
	DefaultRefusalRateRel = 0.5
	DefaultRefusalRateAbs = 0.01
	DefaultLatencyRel     = 0.2
	DefaultLatencyAbsMS   = 2.0
	DefaultTokensRel      = 0.5
	DefaultQualityAbs     = 0.05
	DefaultCacheMissRel   = 0.25
	DefaultCacheMissAbs   = 0.05
	DefaultToolCallRel    = 0.2
	DefaultToolCallAbs    = 0.05
)

// WithDefaults returns s with every zero field set to its default: an
// interval of 10s, alpha 0.05, 100 candidate requests before any verdict,
// two failing analyses in a row to roll back, and thresholds of +50% on the
// error rate (at least +0.5 points), the cancel rate (at least +1 point)
// and the refusal rate (at least +1 point), +20% on latency quantiles and time to first token (at least +2 ms), ±50% on output
// tokens and response length, −0.05 on quality, +25% on the prefix-cache
// miss rate (at least +5 points), and ±20% of the tool-call rate's rarer
// outcome (at least ±5 points). An alpha outside (0, 1)
// is replaced too. Categories stays as given (nil means on).
func WithDefaults(s sluice.AnalysisSpec) sluice.AnalysisSpec {
	if s.Interval <= 0 {
		s.Interval = sluice.Duration(DefaultInterval)
	}
	if !(s.Alpha > 0 && s.Alpha < 1) {
		s.Alpha = DefaultAlpha
	}
	if s.MinSamples <= 0 {
		s.MinSamples = DefaultMinSamples
	}
	if s.FailChecks <= 0 {
		s.FailChecks = DefaultFailChecks
	}
	t := &s.Thresholds
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&t.ErrorRateRel, DefaultErrorRateRel)
	def(&t.ErrorRateAbs, DefaultErrorRateAbs)
	def(&t.CancelRateRel, DefaultCancelRateRel)
	def(&t.CancelRateAbs, DefaultCancelRateAbs)
	def(&t.RefusalRateRel, DefaultRefusalRateRel)
	def(&t.RefusalRateAbs, DefaultRefusalRateAbs)
	def(&t.LatencyRel, DefaultLatencyRel)
	def(&t.LatencyAbsMS, DefaultLatencyAbsMS)
	def(&t.TokensRel, DefaultTokensRel)
	def(&t.QualityAbs, DefaultQualityAbs)
	def(&t.CacheMissRateRel, DefaultCacheMissRel)
	def(&t.CacheMissRateAbs, DefaultCacheMissAbs)
	def(&t.ToolCallRateRel, DefaultToolCallRel)
	def(&t.ToolCallRateAbs, DefaultToolCallAbs)
	return s
}

// arm is an Arm made ready for the tests: sorted distributions and the
// moments of the metrics compared by their means.
type arm struct {
	requests, errors, refusals int
	canceled                   int
	cacheReported, cacheHits   int
	toolAnswers, toolCalls     int
	latency, ttft              []float64 // ascending, no NaNs
	tokens, chars, quality     stats.Summary
	// qualityBySource holds the moments of each source's scores.
	qualityBySource map[string]stats.Summary
	// conversations is Arm.Conversations; units the independent samples
	// among requests (a conversation once), which min_samples counts.
	conversations []observe.Counts
	units         int
}

func prepare(a Arm) arm {
	p := arm{
		requests: a.Requests, errors: a.Errors, refusals: a.Refusals, canceled: a.Canceled,
		cacheReported: a.CacheReported, cacheHits: a.CacheHits,
		toolAnswers: a.ToolAnswers, toolCalls: a.ToolCalls,
		conversations: a.Conversations, units: int(observe.Units(int64(a.Requests), a.Conversations)),
	}
	if r := a.Running; r != nil {
		p.tokens, p.chars, p.quality = r.tokens.summary(a.OutputTokens), r.chars.summary(a.ResponseChars), r.quality.summary(a.Quality)
	} else {
		p.tokens, p.chars, p.quality = moments(a.OutputTokens), moments(a.ResponseChars), moments(a.Quality)
	}
	for src, q := range a.QualityBySource {
		if len(q) == 0 {
			continue
		}
		if p.qualityBySource == nil {
			p.qualityBySource = make(map[string]stats.Summary, len(a.QualityBySource))
		}
		p.qualityBySource[src] = moments(q)
	}
	if a.Sorted {
		p.latency, p.ttft = a.Latency, a.TTFT
	} else {
		p.latency, p.ttft = sortedCopy(a.Latency), sortedCopy(a.TTFT)
	}
	return p
}

// answered is the number of requests that got an answer, the denominator
// of the refusal rate (refusals are counted among answers, as the fake
// model and the gateway's refusal detector define them).
func (a *arm) answered() int { return max(a.requests-a.errors-a.canceled, 0) }

// finished is the number of requests whose outcome is known, an answer or
// an error: the denominator of the error rate (see tester.compare).
func (a *arm) finished() int { return max(a.requests-a.canceled, 0) }

func sortedCopy(x []float64) []float64 {
	out := make([]float64, 0, len(x))
	for _, v := range x {
		if v == v { // not NaN
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// moments summarises x in one pass, skipping NaNs. The shift by the first
// value keeps the sum of squares from cancelling when the spread is small
// next to the mean; four running sums let the loop pipeline, which matters
// because the controller sums every window at every look.
func moments(x []float64) stats.Summary {
	var m momentSums
	return m.summary(x)
}

// momentSums are the running sums of moments over the whole blocks of four
// values of a slice summed so far (the first done values). Summing a slice
// that grew by appending continues from them and gives, to the last bit,
// what summing it afresh gives: the same additions in the same order.
type momentSums struct {
	done  int
	shift float64
	s, q  [4]float64
}

// summary returns the Summary of x, first adding to m the whole blocks of
// x past the ones it holds. A slice shorter than the sums, or with another
// first value, starts them afresh.
func (m *momentSums) summary(x []float64) stats.Summary {
	if len(x) == 0 {
		*m = momentSums{}
		return stats.Summary{}
	}
	if m.done > len(x) || (m.done > 0 && !sameFloat(m.shift, x[0])) {
		*m = momentSums{}
	}
	if m.done == 0 {
		m.shift = x[0]
	}
	shift := m.shift
	s0, s1, s2, s3 := m.s[0], m.s[1], m.s[2], m.s[3]
	q0, q1, q2, q3 := m.q[0], m.q[1], m.q[2], m.q[3]
	i := m.done
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := x[i]-shift, x[i+1]-shift, x[i+2]-shift, x[i+3]-shift
		s0, s1, s2, s3 = s0+d0, s1+d1, s2+d2, s3+d3
		q0, q1, q2, q3 = q0+d0*d0, q1+d1*d1, q2+d2*d2, q3+d3*d3
	}
	m.done, m.s, m.q = i, [4]float64{s0, s1, s2, s3}, [4]float64{q0, q1, q2, q3}
	for ; i < len(x); i++ {
		d := x[i] - shift
		s0 += d
		q0 += d * d
	}
	sum, sumSq := s0+s1+s2+s3, q0+q1+q2+q3
	n := len(x)
	if sum != sum { // a NaN somewhere: skip them the slow way
		n, sum, sumSq = 0, 0, 0
		shift = 0
		for _, v := range x {
			if v == v {
				shift = v
				break
			}
		}
		for _, v := range x {
			if v == v {
				d := v - shift
				n, sum, sumSq = n+1, sum+d, sumSq+d*d
			}
		}
		if n == 0 {
			return stats.Summary{}
		}
	}
	s := stats.SummaryFromMoments(n, sum, sumSq)
	s.Mean += shift
	return s
}

// sameFloat reports whether a and b are the same value, NaN included.
func sameFloat(a, b float64) bool { return a == b || (a != a && b != b) }
