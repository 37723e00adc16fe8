package analysis

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/stats"
)

// Analyze compares the candidate with the baseline on everything in, overall
// and per category, and returns the verdict at now. It is pure: the same
// spec and input give the same verdict, so the controller and the simulator
// agree. Zero fields of spec take their defaults (see WithDefaults).
//
// The rule, in full in the package documentation: a metric fails when its
// always-valid p-value for "the candidate is worse", adjusted by weighted
// Holm over every metric and category, is at most Alpha and its point
// estimate is beyond the threshold; it passes when its anytime-valid
// interval lies within the threshold. The verdict fails when any metric
// fails anywhere, passes when every all-traffic metric passes, and is
// inconclusive otherwise and always before MinSamples candidate requests.
func Analyze(spec sluice.AnalysisSpec, in Input, now time.Time) sluice.Verdict {
	return analyze(spec, in, now, true)
}

// AnalyzeBake judges a promoted candidate during its bake
// (sluice.RolloutSpec.Bake): in.Candidate is its traffic since the
// promotion, and in.Baseline the baseline's before it (its requests, errors
// and cancels alone: BakeArm), on all traffic and per category. Only the
// error and cancel rates are compared, with the thresholds, the sequential
// tests and the weighted Holm correction of Analyze: the two arms are two
// spans of time, not a random split, so latency, lengths and quality would
// compare the hour as much as the versions, while a rate that rises past its
// threshold is what a candidate failing at all of the traffic shows.
func AnalyzeBake(spec sluice.AnalysisSpec, in Input, now time.Time) sluice.Verdict {
	return analyzeRows(spec, in, now, true, (*tester).failureRates)
}

// BakeArm is an arm of only the counts a bake compares (AnalyzeBake).
func BakeArm(c sluice.RateCounts) Arm {
	return Arm{Requests: int(c.Requests), Errors: int(c.Errors), Canceled: int(c.Canceled)}
}

// AnalyzeOutcome is Analyze without the verdict's rows: the same outcome,
// reason, counts and NeedSamples, with Metrics nil. It is for a caller that
// acts on the verdict and never shows or stores the rows, as the simulator,
// which analyses thousands of times per rollout: it saves writing the line
// of text of each of the tens of rows at every look.
func AnalyzeOutcome(spec sluice.AnalysisSpec, in Input, now time.Time) sluice.Verdict {
	return analyze(spec, in, now, false)
}

// analyze is Analyze, with the rows of the verdict when withRows is set.
func analyze(spec sluice.AnalysisSpec, in Input, now time.Time, withRows bool) sluice.Verdict {
	return analyzeRows(spec, in, now, withRows, (*tester).compare)
}

// analyzeRows is analyze with the rows each slice of traffic is compared on
// made by compare.
func analyzeRows(spec sluice.AnalysisSpec, in Input, now time.Time, withRows bool, compare func(t *tester, category string, b, c *arm) []row) sluice.Verdict {
	spec = WithDefaults(spec)
	t := newTester(spec)
	base, cand := prepare(in.Baseline), prepare(in.Candidate)
	rows := compare(t, "", &base, &cand)
	overall := len(rows)
	if spec.Categories == nil || *spec.Categories {
		for _, name := range slices.Sorted(maps.Keys(in.Categories)) {
			p := in.Categories[name]
			b, c := prepare(p.Baseline), prepare(p.Candidate)
			rows = append(rows, compare(t, name, &b, &c)...)
		}
	}
	adjust(rows, overall)

	v := sluice.Verdict{
		At: now, Outcome: sluice.OutcomeInconclusive,
		BaselineN: base.requests, CandidateN: cand.requests,
		NeedSamples: spec.MinSamples,
	}
	enough := cand.units >= spec.MinSamples
	var failed, pending []*row
	passed := 0
	for i := range rows {
		r := &rows[i]
		if !r.guard && slices.Contains(spec.Guards, r.def.name) {
			r.guard = true
		}
		r.mv.Guard = r.guard
		switch {
		case !enough:
			r.mv.Outcome = sluice.OutcomeInconclusive
		case r.tested && r.mv.PValue <= t.alpha && r.beyond:
			r.mv.Outcome = sluice.OutcomeFail
			if r.failBounds != nil {
				r.failLo, r.failHi, r.msLo, r.msHi = r.failBounds()
			}
			r.mv.Lower, r.mv.Upper = r.failLo, r.failHi
			failed = append(failed, r)
		case r.within:
			r.mv.Outcome = sluice.OutcomePass
		default:
			r.mv.Outcome = sluice.OutcomeInconclusive
		}
		if i < overall && !r.guard {
			if r.mv.Outcome == sluice.OutcomePass {
				passed++
			} else {
				pending = append(pending, r)
			}
		}
		if withRows {
			r.mv.Detail = detail(r)
		}
	}
	if enough {
		v.NeedSamples = max(spec.MinSamples, needSamples(rows[:overall], cand.requests))
	}
	switch {
	case !enough:
		// Named as the analysis's own bar: status shows the stage's
		// sample (its min_samples) beside it, another count of another
		// target.
		v.Reason = fmt.Sprintf("collecting data: %d of %d candidate requests, the analysis's minimum before any verdict (analysis.min_samples)", cand.units, spec.MinSamples)
		if cand.units < cand.requests {
			v.Reason = fmt.Sprintf("collecting data: %d of %d candidate samples (%d requests, the turns of each Responses conversation counted once), the analysis's minimum before any verdict (analysis.min_samples)", cand.units, spec.MinSamples, cand.requests)
		}
	case len(failed) > 0:
		v.Outcome = sluice.OutcomeFail
		v.Reason = failReason(failed, rows[overall:])
	case len(pending) == 0:
		v.Outcome = sluice.OutcomePass
		v.NeedSamples = spec.MinSamples
		v.Reason = fmt.Sprintf("all %d metrics within their thresholds after %d candidate requests; no category regressed", passed, cand.requests)
	default:
		v.Reason = pendingReason(pending, passed)
	}
	if !withRows {
		return v
	}
	v.Metrics = make([]sluice.MetricVerdict, len(rows))
	for i := range rows {
		v.Metrics[i] = finite(rows[i].mv)
	}
	return v
}

// overallShare is the share of alpha spent on the all-traffic comparisons;
// the per-category ones share the rest. The all-traffic comparisons see
// every request and answer the main question, while the category ones are
// many (metrics × categories) and guard against a regression hidden in a
// slice of traffic; splitting alpha between the two groups keeps the main
// tests from being diluted by the number of categories.
const overallShare = 0.5

// adjust sets each tested row's PValue to its weighted-Holm adjusted
// p-value over every tested row (see overallShare); untested rows keep 1.
// The first overall rows are the all-traffic ones.
func adjust(rows []row, overall int) {
	var nOverall, nCat int
	for i := range rows {
		if rows[i].tested {
			if i < overall {
				nOverall++
			} else {
				nCat++
			}
		}
	}
	wOverall, wCat := overallShare, 1-overallShare
	switch {
	case nCat == 0:
		wOverall = 1
	case nOverall == 0:
		wCat = 1
	}
	var ps, ws []float64
	var idx []int
	for i := range rows {
		if !rows[i].tested {
			continue
		}
		ps = append(ps, rows[i].p)
		idx = append(idx, i)
		if i < overall {
			ws = append(ws, wOverall/float64(nOverall))
		} else {
			ws = append(ws, wCat/float64(nCat))
		}
	}
	for k, p := range stats.HolmWeighted(ps, ws) {
		rows[idx[k]].mv.PValue = p
	}
}

// failReason names the failing comparisons: what an operator must read
// first (failed and canceled requests, then what users see of the answers,
// then speed, then lengths: severity), and within each, the strongest
// evidence first. By p-value alone, many rows tie at 0, and the tie went to
// the largest effect, comparing a latency's +1875% with an error rate's +26
// points: a candidate failing 27% of its requests was rolled back with the
// error rate not named among the first three.
//
// A failing all-traffic rate whose categories' rows all stay short of
// failing says which category holds most of the excess, if one does
// (concentration): a description of counts, not a test.
func failReason(failed []*row, cats []row) string {
	slices.SortStableFunc(failed, func(a, b *row) int {
		if c := severity(a.def) - severity(b.def); c != 0 {
			return c
		}
		if c := compareFloat(a.mv.PValue, b.mv.PValue); c != 0 {
			return c
		}
		return compareFloat(math.Abs(b.mv.Effect), math.Abs(a.mv.Effect))
	})
	parts := make([]string, 0, 3)
	for _, r := range failed[:min(3, len(failed))] {
		parts = append(parts, describe(r)+concentration(r, failed, cats))
	}
	s := strings.Join(parts, "; ")
	if len(failed) > 3 {
		s += fmt.Sprintf("; and %d more", len(failed)-3)
	}
	return s
}

// concentration says where the excess of a failing all-traffic rate r lies
// when no category's row of the same metric failed: a candidate failing a
// quarter of payments requests could fail on the overall rate while the
// payments row, on a tenth of the requests (too few to test, or not yet
// significant), left the reason silent about payments. A category is named
// when it holds at least half of the candidate's excess events over the
// baseline's rate, (rate − baseline rate) × candidate sample, and its
// excess per request is at least ten times that of the rest of the
// traffic: a regression spread evenly names none. The bar is a judgement
// on the simulator's runs (sim/RESULTS.md, "A regression in one
// category"): under lower bars, a candidate worse in every category by
// the same amount was said to be worse mostly in one, at 4.4 times the
// rest's excess per request (hangs, code) and at about 5.4 (errors_up,
// chat); and a bar on the category's share of the sample could never name
// payments for the tool-call rate, as payments are most of the requests
// that offer tools.
// The words say it is counts, not a significance claim.
func concentration(r *row, failed []*row, cats []row) string {
	if (r.def.kind != kindRate && r.def.kind != kindRateBoth) || r.mv.Category != "" || r.mv.Source != "" || r.mv.CandidateN <= 0 {
		return ""
	}
	for _, f := range failed {
		if f.def == r.def && f.mv.Category != "" {
			return ""
		}
	}
	// A rate held both ways (the tool-call rate) failed in the direction
	// of its effect, and its categories are weighed in that direction.
	sign, what := 1.0, "excess"
	if r.def.kind == kindRateBoth {
		what = "difference"
		if r.mv.Effect < 0 {
			sign = -1
		}
	}
	total := sign * (r.mv.Candidate - r.mv.Baseline) * float64(r.mv.CandidateN)
	excess := func(c *row) float64 { return sign * (c.mv.Candidate - c.mv.Baseline) * float64(c.mv.CandidateN) }
	// The two categories holding the most excess.
	var top, second *row
	for i := range cats {
		c := &cats[i]
		if c.def != r.def || c.mv.Source != "" || !(excess(c) > 0) {
			continue
		}
		switch {
		case top == nil || excess(c) > excess(top):
			top, second = c, top
		case second == nil || excess(c) > excess(second):
			second = c
		}
	}
	if top == nil || !(total > 0) {
		return ""
	}
	// held reports whether the categories named hold at least half of the
	// excess, with each one's excess per request ten times the rest's.
	held := func(named ...*row) bool {
		most, n := 0.0, 0
		for _, c := range named {
			most, n = most+excess(c), n+c.mv.CandidateN
		}
		if most < total/2 || n >= r.mv.CandidateN {
			return false
		}
		rest, restN := total-most, float64(r.mv.CandidateN-n)
		for _, c := range named {
			if rest > 0 && excess(c)/float64(c.mv.CandidateN) < 10*rest/restN {
				return false
			}
		}
		return true
	}
	events, of := eventWords(r.def)
	counts := func(c *row) string {
		n := c.mv.CandidateN
		return strconv.Itoa(int(math.Round(c.mv.Candidate*float64(n)))) + " " + events + " in " + strconv.Itoa(n) + " " + of
	}
	// Two categories sharing the excess (payments and billing both
	// broken) left each under half, or each under ten times a rest that
	// held the other, and the reason named neither. Only two that are
	// at most half the requests: a regression spread evenly is, by
	// chance, sometimes ten times as large in the two biggest categories
	// as in the small rest (chat and code, three quarters of the traffic,
	// in 3 of 200 simulated runs of errors_up and hangs), and naming most
	// of the traffic says nothing.
	// The pair is named, rather than the first alone, only when the
	// second holds a quarter of the excess: noise in an unchanged
	// category beside one regression is far less.
	if second != nil && 4*excess(second) >= total && 2*(top.mv.CandidateN+second.mv.CandidateN) <= r.mv.CandidateN && held(top, second) {
		one := func(c *row) string {
			return counts(c) + " (" + value(c, c.mv.Candidate) + " vs " + value(c, c.mv.Baseline) + ", " + standing(c) + ")"
		}
		return ", most of the " + what + " in categories " + top.mv.Category + " and " + second.mv.Category + ": " + one(top) + " and " + one(second)
	}
	if held(top) {
		return ", most of the " + what + " in category " + top.mv.Category + ": " + counts(top) +
			" (" + value(top, top.mv.Candidate) + " vs " + value(top, top.mv.Baseline) + "), " + standing(top)
	}
	return ""
}

// standing says why a category's row named by concentration did not fail
// on its own.
func standing(c *row) string {
	switch {
	case !c.tested:
		return "too few to test on their own"
	case !c.beyond:
		// Tested and not failing can also mean significant but within the
		// category's own threshold, which is higher where its baseline's
		// rate is (payments refusing 30% on the stable version): "not yet
		// significant" would be false there.
		return "within the category's own threshold (" + effect(c, c.mv.Effect) + ", threshold " + threshold(c) + ")"
	}
	return "not yet significant on their own"
}

// eventWords names a rate's events and what they are counted in.
func eventWords(d *metricDef) (events, of string) {
	switch d {
	case &mErrors:
		return "errors", "finished requests"
	case &mCancels:
		return "cancels", "requests"
	case &mRefusals:
		return "refusals", "answers"
	case &mCacheMiss:
		return "cache misses", "requests reporting the cache"
	case &mToolCalls:
		return "tool calls", "answers to requests with tools"
	}
	return "events", "requests"
}

// severity orders metrics for a failing verdict's reason (lower first).
func severity(d *metricDef) int {
	switch d {
	case &mErrors, &mCancels:
		return 0
	case &mRefusals, &mQuality, &mToolCalls:
		return 1
	case &mP50, &mP95, &mP99, &mTTFT:
		return 2
	}
	return 3 // lengths, the cache
}

// pendingReason says which all-traffic metrics still keep the candidate
// from passing.
func pendingReason(pending []*row, passed int) string {
	parts := make([]string, 0, 3)
	for _, r := range pending[:min(3, len(pending))] {
		parts = append(parts, bound(r))
	}
	s := fmt.Sprintf("no regression found; %d metrics within their thresholds, not yet shown for %s", passed, strings.Join(parts, ", "))
	if len(pending) > 3 {
		s += fmt.Sprintf(" and %d more", len(pending)-3)
	}
	return s
}

// needSamples projects the candidate sample at which every all-traffic
// metric's interval would fit within its threshold if the estimates held,
// from the width of the intervals now (which shrink about as 1/√n). An
// interval still open on the worse side needs at least twice the sample.
// Metrics whose estimate is already beyond the threshold cannot pass at any
// sample and are left out. It is a guide for progress bars, not a promise.
func needSamples(rows []row, n int) int {
	need := n
	for i := range rows {
		r := &rows[i]
		if r.within || r.guard {
			continue
		}
		var width, room float64
		switch r.def.kind {
		case kindQuality:
			width, room = r.mv.Effect-r.mv.Lower, r.mv.Effect-r.mv.Threshold
		case kindMean, kindRateBoth:
			width = math.Max(r.mv.Upper-r.mv.Effect, r.mv.Effect-r.mv.Lower)
			room = r.mv.Threshold - math.Abs(r.mv.Effect)
		default:
			width, room = r.mv.Upper-r.mv.Effect, r.mv.Threshold-r.mv.Effect
		}
		switch {
		case room <= 0 || math.IsNaN(width):
			continue
		case math.IsInf(width, 0) || !r.tested:
			need = max(need, 2*max(n, minTestSample))
		default:
			f := float64(n) * (width / room) * (width / room)
			need = max(need, int(math.Min(math.Ceil(f), 1e9)))
		}
	}
	return need
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// finite replaces the infinities of the values, which JSON cannot carry, by
// ±math.MaxFloat64, and NaN by 0. The interval's ends keep theirs: an
// unbounded end is ±Inf, which a verdict's JSON writes as null
// (sluice.MetricVerdict.MarshalJSON); only a NaN end becomes unbounded.
func finite(mv sluice.MetricVerdict) sluice.MetricVerdict {
	f := func(x float64) float64 {
		switch {
		case math.IsInf(x, 1):
			return math.MaxFloat64
		case math.IsInf(x, -1):
			return -math.MaxFloat64
		case math.IsNaN(x):
			return 0
		}
		return x
	}
	mv.Baseline, mv.Candidate, mv.Effect = f(mv.Baseline), f(mv.Candidate), f(mv.Effect)
	mv.Threshold, mv.PValue = f(mv.Threshold), f(mv.PValue)
	if math.IsNaN(mv.Lower) {
		mv.Lower = math.Inf(-1)
	}
	if math.IsNaN(mv.Upper) {
		mv.Upper = math.Inf(1)
	}
	return mv
}
