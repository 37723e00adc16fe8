package analysis

import (
	"maps"
	"math"
	"slices"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/stats"
)

// kind is how a metric is compared.
type kind int

const (
	kindRate     kind = iota // a proportion: errors, cancels, refusals
	kindQuantile             // a quantile of a distribution: latency, TTFT
	kindMean                 // a mean that may drift either way: tokens, length
	kindQuality              // a mean score that must not drop
	kindRateBoth             // a proportion that may drift either way: tool calls
)

// metricDef describes one metric of the analysis.
type metricDef struct {
	name  string  // as in sluice.MetricVerdict.Metric
	words string  // for people
	kind  kind    //
	q     float64 // the quantile level of a kindQuantile metric
	unit  string  // how a value is printed: "%", "ms", "tokens", "chars", ""
}

// The metrics, in the order verdicts list them.
var (
	mErrors   = metricDef{name: "error_rate", words: "error rate", kind: kindRate, unit: "%"}
	mCancels  = metricDef{name: "cancel_rate", words: "cancel rate", kind: kindRate, unit: "%"}
	mRefusals = metricDef{name: "refusal_rate", words: "refusal rate", kind: kindRate, unit: "%"}
	mP50      = metricDef{name: "latency_p50", words: "latency p50", kind: kindQuantile, q: 0.5, unit: "ms"}
	mP95      = metricDef{name: "latency_p95", words: "latency p95", kind: kindQuantile, q: 0.95, unit: "ms"}
	mP99      = metricDef{name: "latency_p99", words: "latency p99", kind: kindQuantile, q: 0.99, unit: "ms"}
	mTTFT     = metricDef{name: "ttft", words: "time to first token (p50)", kind: kindQuantile, q: 0.5, unit: "ms"}
	mTokens   = metricDef{name: "output_tokens", words: "output tokens", kind: kindMean, unit: "tokens"}
	mChars    = metricDef{name: "response_chars", words: "response length", kind: kindMean, unit: "chars"}
	mQuality  = metricDef{name: "quality", words: "quality", kind: kindQuality}
	// The cache is compared by its miss rate, so that, like every other
	// rate, higher is worse.
	mCacheMiss = metricDef{name: "cache_miss_rate", words: "prefix-cache miss rate", kind: kindRate, unit: "%"}
	// The tool-call rate is compared both ways (tester.rate, kindRateBoth).
	mToolCalls = metricDef{name: "tool_call_rate", words: "tool-call rate", kind: kindRateBoth, unit: "%"}
)

// defs lists every metric of the analysis, for lookups by name.
var defs = []*metricDef{&mErrors, &mCancels, &mRefusals, &mP50, &mP95, &mP99, &mTTFT, &mTokens, &mChars, &mQuality, &mCacheMiss, &mToolCalls}

// TwoSided reports whether the analysis metric named metric (as in
// sluice.MetricVerdict.Metric) is held within ±threshold both ways (output
// tokens, response length, the tool-call rate) rather than bounded on the
// worse side only, so that its threshold is shown as ±x, not +x.
func TwoSided(metric string) bool {
	for _, d := range defs {
		if d.name == metric {
			return d.kind == kindMean || d.kind == kindRateBoth
		}
	}
	return false
}

// UnitOf returns the unit the analysis metric named metric is read in:
// "%" for a rate (its values fractions), "ms" for a latency or TTFT
// quantile, "tokens", "chars", or "" (quality, a Prometheus gate, a name
// it does not know).
func UnitOf(metric string) string {
	for _, d := range defs {
		if d.name == metric {
			return d.unit
		}
	}
	return ""
}

// TwoSidedMetrics names the metrics TwoSided holds both ways, in the
// analysis's order: the dashboard's script reads them from its page, so
// that the list is written once, here.
func TwoSidedMetrics() []string {
	var out []string
	for _, d := range defs {
		if TwoSided(d.name) {
			out = append(out, d.name)
		}
	}
	return out
}

// minTestSample is the smallest sample per arm on which a comparison
// enters the family of tests. The mixture SPRT plugs in estimated
// variances, which are unreliable on a handful of requests (a category
// with 3 requests and 1 refusal); the quantile tests are exact and need no
// such guard, but share it for simplicity.
const minTestSample = 30

// The sequential tests are mixtures tuned for a sample size and a level
// fixed in advance; tuning changes where they are sharpest, never their
// validity. Failing and passing ask different questions at different
// times, so each has its own mixture: the tests of "worse" are tuned to
// catch a large regression early, near the minimum sample and at about the
// level Holm asks of the first tests of a family of some tens; the
// intervals that show non-inferiority, which takes thousands of requests
// for a 0.5-point margin on a 1% error rate or a 20% margin on a p99, are
// tuned there.
const (
	failLevelShare   = 20 // the tests of "worse" are tuned for alpha/20
	passHorizonRatio = 20 // the intervals for 20 × MinSamples
)

// candidateShare is the share of a quantile interval's error spent on the
// candidate's side.
const candidateShare = 0.8

// tester holds what every comparison of one analysis shares.
type tester struct {
	spec        sluice.AnalysisSpec
	alpha       float64 // the family's level
	failLevel   float64 // the level the tests of "worse" are tuned for
	failHorizon int     // the candidate sample they are tuned for
	passHorizon int     // the candidate sample the intervals are tuned for
}

func newTester(spec sluice.AnalysisSpec) *tester {
	return &tester{
		spec:        spec,
		alpha:       spec.Alpha,
		failLevel:   spec.Alpha / failLevelShare,
		failHorizon: max(spec.MinSamples, minTestSample),
		passHorizon: max(passHorizonRatio*spec.MinSamples, 1000),
	}
}

// mixture returns the mSPRT for a difference whose per-observation variance
// is about v, tuned at horizon and level.
func mixture(v float64, horizon int, level float64) stats.MixtureSPRT {
	return stats.MixtureSPRT{Tau2: stats.OptimalTau2(v/float64(horizon), level)}
}

// row is one comparison: the verdict row and what the decision needs.
type row struct {
	mv  sluice.MetricVerdict
	def *metricDef
	// tested is true when the comparison had enough data to enter the
	// family of tests.
	tested bool
	// p is the always-valid p-value, before the multiple-comparison
	// correction, against "the candidate is no worse than the baseline".
	p float64
	// beyond is true when the point estimate is worse than the threshold.
	beyond bool
	// within is true when the anytime-valid interval shows the candidate
	// is within the threshold (the non-inferiority that lets it pass).
	within bool
	// failLo and failHi are the interval of the mixture tuned for
	// detection, shown instead of Lower and Upper (the interval tuned for
	// non-inferiority) when the comparison fails. A quantile computes them
	// only then, through failBounds.
	failLo, failHi float64
	failBounds     func() (lo, hi, msLo, msHi float64)
	// msLo and msHi are a latency row's interval in ms (the candidate's
	// quantile less the baseline's), as its text gives it when the
	// floor rules: a relative end beside "threshold +2 ms" could not be
	// held against it ("up to +1015%" of a 0.2 ms baseline).
	msLo, msHi float64
	// guard marks a row that can fail the candidate but never holds back
	// a pass (a quality source's: qualitySources).
	guard bool
	// relThreshold is the relative threshold of a rate (for the text) and
	// floorRules is true when the absolute floor, not the relative
	// threshold, set the threshold (a rate's, or a latency's: then
	// mv.ThresholdMS is the floor).
	relThreshold float64
	floorRules   bool
}

func newRow(def *metricDef, category string, b, c int) row {
	return row{def: def, p: 1, mv: sluice.MetricVerdict{
		Metric: def.name, Category: category, Outcome: sluice.OutcomeInconclusive,
		BaselineN: b, CandidateN: c, PValue: 1, Lower: math.Inf(-1), Upper: math.Inf(1),
	}}
}

// limits returns the thresholds th sets for the metric def (defaults
// applied by WithDefaults): for a rate its relative threshold and its
// absolute floor, for a quantile or a mean its relative threshold (abs
// zero), for quality the largest drop of the mean score (rel zero). It is
// the one place that says which threshold bounds which metric, for the
// canary analysis and the A/B report's margins alike.
func limits(th sluice.Thresholds, def *metricDef) (rel, abs float64) {
	switch def {
	case &mErrors:
		return th.ErrorRateRel, th.ErrorRateAbs
	case &mCancels:
		return th.CancelRateRel, th.CancelRateAbs
	case &mRefusals:
		return th.RefusalRateRel, th.RefusalRateAbs
	case &mCacheMiss:
		return th.CacheMissRateRel, th.CacheMissRateAbs
	case &mToolCalls:
		return th.ToolCallRateRel, th.ToolCallRateAbs
	case &mP50, &mP95, &mP99, &mTTFT:
		return th.LatencyRel, th.LatencyAbsMS
	case &mTokens, &mChars:
		return th.TokensRel, 0
	case &mQuality:
		return 0, th.QualityAbs
	}
	return 0, 0
}

// rateThreshold is the threshold of the rate metric def on a baseline rate
// pb: the larger of rel times pb (for kindRateBoth, the baseline's rarer
// outcome) and the floor abs; floor is true when the floor set it.
func rateThreshold(def *metricDef, pb, rel, abs float64) (threshold float64, floor bool) {
	base := pb
	if def.kind == kindRateBoth {
		// Both ways, the threshold scales with the rarer outcome: rel of
		// the baseline's rate could never be reached by a rise from above
		// 1/(1+rel) (from 90%, +18 points is past 100%), and a drop that
		// large (90% to 73%) is no small drift.
		base = math.Min(pb, 1-pb)
	}
	return math.Max(rel*base, abs), rel*base < abs
}

// rate compares x events in n trials. The threshold is the larger of rel
// times the baseline rate (for kindRateBoth, the baseline's rarer outcome:
// the smaller of its rate and one minus it) and the absolute floor abs.
//
// For a kindRate metric (errors, cancels, refusals, cache misses: fewer is
// only better, and "better" stays inconclusive rather than failing) the
// test of "worse at all" is the one-sided mixture SPRT on the difference
// of rates, and the pass needs the interval's upper end within the
// threshold.
//
// A kindRateBoth metric, the tool-call rate, is a regression either way: a
// drop is the typical failure of a fine-tune (it answers in prose where it
// should call transfer_funds), but a rise is one too (it calls tools where
// it should answer), so it is held within ±threshold, as the means are.
// Watching both directions is paid for honestly: the test of "different at
// all" is the two-sided mixture SPRT, whose likelihood ratio is the mean of
// the two one-sided (half-normal) mixtures', so its p-value lies between
// the smaller one-sided p-value and twice it; that p-value, not the
// smaller one-sided one, enters the Holm correction. The pass needs the
// anytime-valid interval inside [−threshold, +threshold], each end holding
// at 1 − alpha, as the means' equivalence does.
func (t *tester) rate(def *metricDef, category string, xb, nb, xc, nc int) row {
	return t.rateEff(def, category, xb, nb, xc, nc,
		stats.EffectiveRate{X: xb, N: nb}, stats.EffectiveRate{X: xc, N: nc})
}

// armRate is rate on the counts of arms b and c, whose tests take the
// counts corrected for each arm's conversations (effectiveRate).
func (t *tester) armRate(def *metricDef, category string, b, c *arm, xb, nb, xc, nc int) row {
	return t.rateEff(def, category, xb, nb, xc, nc,
		effectiveRate(def, b.conversations, xb, nb), effectiveRate(def, c.conversations, xc, nc))
}

// rateEff is rate with the counts its tests take, eb and ec (effective
// counts, stats.ClusteredRate): the row shows the observed rates (xb/nb,
// xc/nc), and its threshold is of the observed baseline rate, while its
// sample sizes (BaselineN, CandidateN), the minimum before a test, the
// tests and the intervals are the effective counts'.
func (t *tester) rateEff(def *metricDef, category string, xb, nb, xc, nc int, eb, ec stats.EffectiveRate) row {
	rel, abs := limits(t.spec.Thresholds, def)
	r := newRow(def, category, eb.N, ec.N)
	r.mv.Unit = "absolute"
	r.relThreshold = rel
	pb, pc := ratio(xb, nb), ratio(xc, nc)
	xb, nb, xc, nc = eb.X, eb.N, ec.X, ec.N
	r.mv.Baseline, r.mv.Candidate, r.mv.Effect = pb, pc, pc-pb
	r.mv.Threshold, r.floorRules = rateThreshold(def, pb, rel, abs)
	if nb < minTestSample || nc < minTestSample {
		return r
	}
	// Tune the mixtures for the variance of the rate, never below the
	// floor's, so a baseline without events still gets a mixture wide
	// enough to see a jump.
	// A baseline at (or near) 100% is kept off 1 by the same floor: its
	// variance would be 0 and the mixture with it, so the row would never
	// be tested (a backend reporting cached_tokens 0 on every request has
	// a miss rate of 100% on both arms; a version that always calls a tool).
	p0 := math.Max(pb, abs)
	p0 = math.Min(p0, math.Max(1-abs, 0.5))
	v := p0 * (1 - p0)
	// The test of "worse" averages that mixture with one tuned for the
	// largest variance a rate has (at 1/2), at the same horizon and level
	// (stats.MixtureSPRT.Tau2Wide): tuned on a rare event's variance alone,
	// τ is a couple of points, and a jump of tens of points in a category's
	// few dozen requests (a candidate failing a quarter of payments) gained
	// evidence so slowly that the overall row rolled it back while the
	// category's stayed inconclusive. The level is kept; the cost is at
	// most a factor of 2 on the first mixture's p-value.
	fail := mixture(v, t.failHorizon, t.failLevel)
	fail.Tau2Wide = mixture(0.25, t.failHorizon, t.failLevel).Tau2
	test := fail.Proportions(xb, nb, xc, nc)
	// The test of "different at all" takes the pooled floor (a small arm at
	// 0 or 100% is not taken for certain); the interval the pass reads
	// takes each arm's own variance, as it bounds a difference that need
	// not be zero.
	cs := mixture(v, t.passHorizon, t.alpha).ProportionsInterval(xb, nb, xc, nc)
	if !test.Valid || !cs.Valid {
		return r
	}
	iv := cs.Interval(2 * t.alpha)
	r.tested = true
	r.mv.Lower, r.mv.Upper = iv.Lo, iv.Hi
	fiv := test.Interval(2 * t.alpha)
	r.failLo, r.failHi = fiv.Lo, fiv.Hi
	if def.kind == kindRateBoth {
		r.p = test.PValue
		r.beyond = math.Abs(r.mv.Effect) > r.mv.Threshold
		r.within = iv.Lo >= -r.mv.Threshold && iv.Hi <= r.mv.Threshold
		return r
	}
	r.p = test.PGreater
	r.beyond = r.mv.Effect > r.mv.Threshold
	r.within = iv.Hi <= r.mv.Threshold
	return r
}

// quantile compares the q-quantiles of two ascending samples, relative to
// the baseline's: worse at all by PGreaterSorted, within the threshold when
// the candidate's upper confidence bound is below the larger of (1+rel)
// times the baseline's lower one and that plus the floor abs (ms). The
// row's threshold is the larger of rel and abs over the baseline's
// quantile, relative as its effect.
func (t *tester) quantile(def *metricDef, category string, b, c []float64) row {
	rel, abs := limits(t.spec.Thresholds, def)
	r := newRow(def, category, len(b), len(c))
	r.mv.Unit = "relative"
	r.mv.Threshold = rel
	r.relThreshold = rel
	if len(b) == 0 || len(c) == 0 {
		// The side that has answers still shows its quantile, as a rate
		// or mean row does: left at 0, a category the candidate had not
		// served yet read "baseline 0ms" in the verdict table.
		if len(b) > 0 {
			r.mv.Baseline = stats.Quantile(b, def.q)
		}
		if len(c) > 0 {
			r.mv.Candidate = stats.Quantile(c, def.q)
		}
		return r
	}
	qb, qc := stats.Quantile(b, def.q), stats.Quantile(c, def.q)
	r.mv.Baseline, r.mv.Candidate, r.mv.Effect = qb, qc, relChange(qc, qb)
	if qb > 0 && abs > rel*qb {
		r.mv.Threshold, r.floorRules, r.mv.ThresholdMS = abs/qb, true, abs
	}
	if len(b) < minTestSample || len(c) < minTestSample {
		return r
	}
	// A tail quantile is bounded only after some 1/(1−q) observations and
	// tight only after tens of times that, so its mixtures are tuned later.
	failHorizon := max(t.failHorizon, int(math.Ceil(10/(1-def.q))))
	passHorizon := max(t.passHorizon, int(math.Ceil(50/(1-def.q))))
	r.tested = true
	r.p = stats.QuantileSequence{Q: def.q, Alpha: t.failLevel, Horizon: failHorizon}.PGreaterSorted(b, c, 1)
	// Each end of the ratio's interval holds with probability 1 − alpha,
	// like the rates' and means': the candidate's side spends 0.8·alpha
	// and the baseline's, far larger and so tight at any level, 0.2·alpha.
	intervals := func(horizon int) (ib, ic stats.Interval) {
		ib = stats.QuantileSequence{Q: def.q, Alpha: 2 * (1 - candidateShare) * t.alpha, Horizon: horizon}.IntervalSorted(b)
		ic = stats.QuantileSequence{Q: def.q, Alpha: 2 * candidateShare * t.alpha, Horizon: horizon}.IntervalSorted(c)
		return ib, ic
	}
	ib, ic := intervals(passHorizon)
	r.mv.Lower, r.mv.Upper = ratioBounds(ic, ib)
	r.msLo, r.msHi = diffBounds(ic, ib)
	r.within = !math.IsInf(ic.Hi, 1) && ib.Lo > 0 && ic.Hi <= max((1+rel)*ib.Lo, ib.Lo+abs)
	r.failBounds = func() (lo, hi, msLo, msHi float64) {
		fb, fc := intervals(failHorizon)
		lo, hi = ratioBounds(fc, fb)
		msLo, msHi = diffBounds(fc, fb)
		return lo, hi, msLo, msHi
	}
	r.beyond = r.mv.Effect > rel && qc-qb > abs
	return r
}

// mean compares means that must stay within ±rel of the baseline's, by the
// two-sided mixture SPRT.
func (t *tester) mean(def *metricDef, category string, b, c stats.Summary) row {
	rel, _ := limits(t.spec.Thresholds, def)
	r := newRow(def, category, b.N, c.N)
	r.mv.Unit = "relative"
	r.mv.Threshold = rel
	r.mv.Baseline, r.mv.Candidate, r.mv.Effect = b.Mean, c.Mean, relChange(c.Mean, b.Mean)
	// A change relative to a baseline mean of 0 is not defined, except
	// when the candidate's is 0 as well (answers that are tool calls only
	// have 0 characters of text on both arms): then it is known to be 0.
	if b.N < minTestSample || c.N < minTestSample || b.Mean < 0 || (b.Mean == 0 && (c.Mean != 0 || b.Variance != 0 || c.Variance != 0)) {
		return r
	}
	r.beyond = math.Abs(r.mv.Effect) > rel
	if b.Variance == 0 && c.Variance == 0 {
		// Constant answers (a fixed length): the difference is known.
		r.tested = true
		if b.Mean != c.Mean {
			r.p = 0
		}
		r.mv.Lower, r.mv.Upper = r.mv.Effect, r.mv.Effect
		r.failLo, r.failHi = r.mv.Effect, r.mv.Effect
		r.within = !r.beyond
		return r
	}
	v := math.Max(b.Variance, c.Variance)
	test := mixture(v, t.failHorizon, t.failLevel).Means(b, c)
	cs := mixture(v, t.passHorizon, t.alpha).Means(b, c)
	if !test.Valid || !cs.Valid {
		return r
	}
	iv := cs.Interval(2 * t.alpha)
	r.tested = true
	r.p = test.PValue
	fiv := test.Interval(2 * t.alpha)
	r.failLo, r.failHi = fiv.Lo/b.Mean, fiv.Hi/b.Mean
	r.mv.Lower, r.mv.Upper = iv.Lo/b.Mean, iv.Hi/b.Mean
	r.within = iv.Lo >= -rel*b.Mean && iv.Hi <= rel*b.Mean
	return r
}

// quality compares mean scores, which must not drop by more than drop.
func (t *tester) quality(def *metricDef, category string, b, c stats.Summary) row {
	_, drop := limits(t.spec.Thresholds, def)
	r := newRow(def, category, b.N, c.N)
	r.mv.Unit = "absolute"
	r.mv.Threshold = -drop
	r.mv.Baseline, r.mv.Candidate, r.mv.Effect = b.Mean, c.Mean, c.Mean-b.Mean
	if b.N < minTestSample || c.N < minTestSample {
		return r
	}
	r.beyond = r.mv.Effect < -drop
	// Scores lie in [0, 1], and an arm whose every score is the same (all
	// answers fine) has no sample variance, which the tests cannot use:
	// give each arm at least the variance of a [0, 1] score with that mean,
	// smoothed as for a proportion, so a perfect arm still gets a finite
	// interval that narrows with n.
	b, c = floorScoreVariance(b), floorScoreVariance(c)
	v := math.Max(math.Max(b.Variance, c.Variance), 0.01)
	test := mixture(v, t.failHorizon, t.failLevel).Means(b, c)
	cs := mixture(v, t.passHorizon, t.alpha).Means(b, c)
	if !test.Valid || !cs.Valid {
		return r
	}
	iv := cs.Interval(2 * t.alpha)
	r.tested = true
	r.p = test.PLess
	fiv := test.Interval(2 * t.alpha)
	r.failLo, r.failHi = fiv.Lo, fiv.Hi
	r.mv.Lower, r.mv.Upper = iv.Lo, iv.Hi
	r.within = iv.Lo >= -drop
	return r
}

// qualitySources compares each source of quality scores on its own, when
// the arms have scores from two sources or more (with one, its row would
// repeat the combined one). The heuristic scores every answer, users'
// feedback and the judge a few, so in the combined mean the heuristic
// decides: a candidate whose users thumbed down half its answers, against
// a fifth of the baseline's, passed on quality. Each source's row is a
// guard: it fails a candidate significantly worse on it (its p-value
// enters the Holm family), and it never holds back a pass, as a sparse
// source can take thousands of scores to show within the threshold; the
// combined row is the one a pass needs, as before.
func (t *tester) qualitySources(category string, b, c *arm) []row {
	if len(b.qualityBySource) < 2 && len(c.qualityBySource) < 2 {
		return nil
	}
	var rows []row
	for _, src := range slices.Sorted(maps.Keys(b.qualityBySource)) {
		qb, qc := b.qualityBySource[src], c.qualityBySource[src]
		if qc.N == 0 {
			continue
		}
		r := t.quality(&mQuality, category, qb, qc)
		r.mv.Source = src
		r.guard = true
		rows = append(rows, r)
	}
	return rows
}

// compare runs every metric the data allow on one slice of traffic.
func (t *tester) compare(category string, b, c *arm) []row {
	rows := make([]row, 0, 12)
	rows = append(rows, t.failureRates(category, b, c)...)
	rows = append(rows,
		t.armRate(&mRefusals, category, b, c, b.refusals, b.answered(), c.refusals, c.answered()),
		// The latencies are of finished answers only. A canceled request's
		// elapsed time is a lower bound on its latency (right-censored),
		// but it cannot join these samples soundly: entered as a value it
		// pulls the candidate's quantile down, and so its upper bound, which
		// is what passes a candidate; entered as unbounded on that side (the
		// sound way) it would keep p99 from ever passing on a service whose
		// users press stop on more than 1% of requests (p95: 5%), whatever
		// the candidate did. Hanging shows in the cancel rate instead.
		t.quantile(&mP50, category, b.latency, c.latency),
		t.quantile(&mP95, category, b.latency, c.latency),
		t.quantile(&mP99, category, b.latency, c.latency),
	)
	if len(b.ttft) > 0 || len(c.ttft) > 0 {
		rows = append(rows, t.quantile(&mTTFT, category, b.ttft, c.ttft))
	}
	rows = append(rows,
		t.mean(&mTokens, category, b.tokens, c.tokens),
		t.mean(&mChars, category, b.chars, c.chars),
	)
	if b.quality.N > 0 && c.quality.N > 0 {
		rows = append(rows, t.quality(&mQuality, category, b.quality, c.quality))
		rows = append(rows, t.qualitySources(category, b, c)...)
	}
	if b.cacheReported > 0 && c.cacheReported > 0 {
		rows = append(rows, t.armRate(&mCacheMiss, category, b, c,
			b.cacheReported-b.cacheHits, b.cacheReported, c.cacheReported-c.cacheHits, c.cacheReported))
	}
	// Only when both versions answered requests that offered tools: a
	// pair without them has no tool-call rate to judge, and a row on zero
	// samples would only hold the verdict back (or, worse, read as a pass).
	if b.toolAnswers > 0 && c.toolAnswers > 0 {
		rows = append(rows, t.armRate(&mToolCalls, category, b, c,
			b.toolCalls, b.toolAnswers, c.toolCalls, c.toolAnswers))
	}
	return rows
}

// failureRates are the error and cancel rates' rows: what a bake judges
// (AnalyzeBake), and the first rows of every comparison.
func (t *tester) failureRates(category string, b, c *arm) []row {
	return []row{
		// A canceled request's outcome is unknown: its client left before
		// the answer or the error. Counting it as a request that did not
		// fail made a version that hangs until its clients give up look
		// more reliable the more it hung. The error rate is therefore over
		// the requests that finished (errors among known outcomes, the
		// cancels treated as censored), and the cancels are compared on
		// their own, over every request, where hanging shows.
		t.armRate(&mErrors, category, b, c, b.errors, b.finished(), c.errors, c.finished()),
		t.armRate(&mCancels, category, b, c, b.canceled, b.requests, c.canceled, c.requests),
	}
}

func ratio(x, n int) float64 {
	if n <= 0 {
		return 0
	}
	return float64(x) / float64(n)
}

// relChange is c/b − 1 for a nonnegative metric: +Inf when only b is zero,
// zero when both are.
func relChange(c, b float64) float64 {
	switch {
	case b > 0:
		return c/b - 1
	case c > 0:
		return math.Inf(1)
	}
	return 0
}

// ratioBounds turns the intervals of a nonnegative metric's quantile in each
// arm into bounds on the relative change: the candidate's lowest over the
// baseline's highest, and the candidate's highest over the baseline's
// lowest. An unbounded end gives −1 (nothing is lower than zero) or +Inf.
func ratioBounds(c, b stats.Interval) (lo, hi float64) {
	lo, hi = -1, math.Inf(1)
	if c.Lo > 0 && !math.IsInf(b.Hi, 1) && b.Hi > 0 {
		lo = c.Lo/b.Hi - 1
	}
	if !math.IsInf(c.Hi, 1) && b.Lo > 0 {
		hi = c.Hi/b.Lo - 1
	}
	return lo, hi
}

// diffBounds bounds the difference of the candidate's quantile and the
// baseline's given their intervals c and b, in their unit (ms): what the
// floor (ic.Hi <= ib.Lo + abs) holds the upper end to. An end the data do
// not bound yet is infinite.
func diffBounds(c, b stats.Interval) (lo, hi float64) {
	lo, hi = math.Inf(-1), math.Inf(1)
	if !math.IsInf(b.Hi, 1) && !math.IsInf(c.Lo, -1) {
		lo = c.Lo - b.Hi
	}
	if !math.IsInf(c.Hi, 1) && !math.IsInf(b.Lo, -1) {
		hi = c.Hi - b.Lo
	}
	return lo, hi
}

// floorScoreVariance raises a [0, 1] score summary's variance to at least
// p(1-p), where p is its mean smoothed as (n·mean+1)/(n+2).
func floorScoreVariance(x stats.Summary) stats.Summary {
	n := float64(x.N)
	p := (n*x.Mean + 1) / (n + 2)
	x.Variance = math.Max(x.Variance, p*(1-p))
	return x
}
