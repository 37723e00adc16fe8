package analysis

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/stats"
)

// Report is the end of an A/B test: each metric compared once, at the
// planned sample, by fixed-horizon tests, with effect sizes and a winner.
type Report struct {
	// Alpha is the family's significance level; zero in the call means
	// 0.05.
	Alpha float64 `json:"alpha"`
	// BaselineN and CandidateN are the requests of each arm.
	BaselineN  int `json:"baseline_n"`
	CandidateN int `json:"candidate_n"`
	// Metrics holds one comparison per metric with data in both arms: the
	// tool-call rate only when both answered requests that offered tools.
	Metrics []ABMetric `json:"metrics"`
	// Categories compares the same metrics within each request category
	// (Category set), when the arms served two categories or more, on
	// the metrics with 30 requests (or values) a side, as the canary
	// analysis's categories (minTestSample); its rows and the overall ones are one family under Holm's weighted
	// procedure, half of alpha each (abAdjust), so the overall rows keep
	// their power and the chance of any false winner stays at alpha. A category where the candidate is significantly worse
	// counts against it in Winner, as in the canary analysis: a regression
	// confined to a twentieth of the traffic barely moves the overall rows.
	Categories []ABMetric `json:"categories,omitempty"`
	// Winner is "candidate" when it is significantly better on some metric
	// and worse on none (overall or in a category), "baseline" for the
	// reverse, "mixed" when each wins somewhere, and "no difference"
	// otherwise.
	Winner string `json:"winner"`
	// Summary says it in a sentence, naming too the significant changes
	// that favour neither arm ("tool_call_rate lower").
	Summary string `json:"summary"`
	// StoppedEarly says the test was concluded by an operator before its
	// planned sample (PlannedN requests per arm): its p-values are those
	// of one look at a smaller sample than planned, and a look chosen
	// because the results looked good or bad is more often wrong than
	// alpha says. False for a report at the planned sample.
	StoppedEarly bool `json:"stopped_early,omitempty"`
	// PlannedN is the planned requests per arm of a test stopped early.
	PlannedN int `json:"planned_n,omitempty"`
	// SampleFrom and SampleUntil bound the answers the report compares
	// (from the candidate going live until the sample was reached, or
	// the test stopped), and ScoresRead is when the scores that come
	// after their answer (users' ratings, the judge's grades) were read
	// for it: a rating of those answers that arrived later is not in the
	// report, which never changes; the rollout's status shows such
	// ratings beside it (rollout.LateFeedback). Set by the controller,
	// which knows the times; zero in a report stored before they were
	// kept (postgres 0032, sqlite 0026).
	SampleFrom  time.Time `json:"sample_from,omitzero"`
	SampleUntil time.Time `json:"sample_until,omitzero"`
	ScoresRead  time.Time `json:"scores_read_at,omitzero"`
}

// ABMetric is one metric of an A/B report.
type ABMetric struct {
	// Metric is named as in sluice.MetricVerdict; latency and TTFT are
	// compared by their means here (latency_mean, ttft_mean).
	Metric string `json:"metric"`
	// Category is the request category of a row of Report.Categories; ""
	// for all traffic.
	Category string `json:"category,omitempty"`
	// Source, on a quality row, names where its scores came from
	// (feedback, heuristic, judge, other): each source with scores in both
	// arms has a row of its own. The proxy's heuristic scores every
	// answer and users' feedback a few, so in one row of all scores the
	// heuristic's outnumbered the users' and decided alone, on a different
	// question. Empty on the other metrics, and on the one quality row of
	// an arm whose scores do not say their source (Arm.QualityBySource nil).
	Source string `json:"source,omitempty"`
	// Baseline and Candidate are the arms' means (rates for rates).
	Baseline  float64 `json:"baseline"`
	Candidate float64 `json:"candidate"`
	// BaselineN and CandidateN are what each arm's figure rests on: a
	// rate's denominator (the requests that finished, for the error rate;
	// the answers, for the refusal rate), a mean's values (a quality row's
	// scores: a feedback row's are the rated answers alone, often a tenth
	// of the requests the report's header counts). Zero in a report
	// stored before rows carried them.
	BaselineN  int `json:"baseline_n,omitempty"`
	CandidateN int `json:"candidate_n,omitempty"`
	// Diff is Candidate − Baseline, and Lower and Upper its confidence
	// interval at 1 − Alpha on its own (Newcombe's for rates, Welch's for
	// means): the row's interval if it were the only comparison, kept for
	// readers who compare one metric. It decides nothing: with eight rows
	// one such interval excludes zero by chance about a third of the time.
	Diff  float64 `json:"diff"`
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	// AdjustedLower and AdjustedUpper are the row's simultaneous interval,
	// at the confidence AdjustedLevel: 1 − alpha·w, w the row's share of
	// the family that AdjustedP's Holm procedure weighs (1/m for m rows
	// without categories; abFamilyAlphas). They are Bonferroni intervals:
	// all of a report's rows cover their true differences together with
	// probability 1 − alpha at least, whatever the metrics' dependence, as
	// the adjusted p-values keep the chance of any false winner at alpha.
	// Equivalence is judged by them, and the CLI and dashboard show them.
	// Zero (AdjustedLevel 0) in a report stored before they were computed.
	AdjustedLower float64 `json:"adjusted_lower"`
	AdjustedUpper float64 `json:"adjusted_upper"`
	AdjustedLevel float64 `json:"adjusted_level,omitempty"`
	// EffectSize is the difference of proportions for rates and Cohen's d
	// for means; EffectKind says which.
	EffectSize float64 `json:"effect_size"`
	EffectKind string  `json:"effect_kind"`
	// PValue is the two-sided p-value of the test (two-proportion z,
	// Welch t), and AdjustedP the Holm-adjusted one over the report's
	// metrics, which decides the winner.
	PValue    float64 `json:"p_value"`
	AdjustedP float64 `json:"adjusted_p"`
	// MannWhitneyP is the two-sided Mann–Whitney U p-value for the
	// distributions (latency, TTFT, lengths): a shift anywhere in the
	// distribution, as Kayenta tests it; zero for rates.
	MannWhitneyP float64 `json:"mann_whitney_p,omitempty"`
	// Test names the test behind PValue.
	Test string `json:"test"`
	// Margin is the change of this metric that matters, in the units of
	// Diff: the rollout's analysis threshold for it (sluice.Thresholds,
	// defaults from WithDefaults), as the canary analysis sets it. For a
	// rate the larger of the relative threshold times the baseline's rate
	// (for the tool-call rate, its rarer outcome) and the absolute floor;
	// for latency, TTFT, tokens and length the relative threshold times
	// the baseline's mean; for quality the largest drop allowed.
	Margin float64 `json:"margin"`
	// Equivalence compares the simultaneous interval (AdjustedLower,
	// AdjustedUpper) with ±Margin: "within" when it lies inside (the arms
	// are shown to differ by less than the margin: equivalence by two
	// one-sided tests, each at the row's share of alpha, halved), "beyond"
	// when it lies entirely outside, "undecided" when it spans a bound (the
	// sample cannot rule out a change that matters). An interval that
	// collapsed because both arms were constant decides only with 30
	// values a side (quality scores: from their interval at the variance
	// of a [0, 1] score with that mean, as the canary analysis floors it).
	Equivalence string `json:"equivalence"`
	// Winner is "candidate", "baseline" or "no difference"; for lengths,
	// where neither direction is better, "longer" or "shorter" (the
	// candidate's) or "no difference", and likewise "higher" or "lower"
	// for the tool-call rate. These never decide the report's winner.
	Winner string `json:"winner"`
}

// ABReport compares the arms of a finished A/B test. Unlike Analyze it is
// for one look at a sample size planned in advance (sluice.RolloutSpec's
// ABSamples), so it uses the sharper fixed-horizon tests; the Holm
// correction keeps the chance of any false winner at alpha. spec is the
// rollout's analysis: its Alpha (outside (0, 1): 0.05) and its Thresholds
// (zero fields: the defaults of WithDefaults), the margins each row's
// Equivalence is judged by. With two request categories or more, each is
// compared too where both arms have 30 a side (Report.Categories).
func ABReport(in Input, spec sluice.AnalysisSpec) Report {
	spec = WithDefaults(spec)
	alpha, th := spec.Alpha, spec.Thresholds
	b, c := in.Baseline, in.Candidate
	rep := Report{Alpha: alpha, BaselineN: b.Requests, CandidateN: c.Requests}
	rep.Metrics = abMetrics(b, c, "", 0, alpha, th)
	var cats []string
	if len(in.Categories) > 1 {
		cats = slices.Sorted(maps.Keys(in.Categories))
		for _, name := range cats {
			p := in.Categories[name]
			// As in Analyze, a category's comparison needs minTestSample
			// a side: on a handful of requests two judge grades a side,
			// equal within each arm, "certainly" differ (p = 0).
			rep.Categories = append(rep.Categories, abMetrics(p.Baseline, p.Candidate, name, minTestSample, alpha, th)...)
		}
	}
	// The family is known now: each row's simultaneous interval is its
	// interval again at its share of alpha (the rows, and so the family,
	// do not depend on the level).
	aOverall, aCat := abFamilyAlphas(alpha, len(rep.Metrics), len(rep.Categories))
	simultaneous(rep.Metrics, abMetrics(b, c, "", 0, aOverall, th), 1-aOverall)
	var catSim []ABMetric
	for _, name := range cats {
		p := in.Categories[name]
		catSim = append(catSim, abMetrics(p.Baseline, p.Candidate, name, minTestSample, aCat, th)...)
	}
	simultaneous(rep.Categories, catSim, 1-aCat)
	// cand and base name the metrics each arm wins; shifts the significant
	// changes that favour neither (lengths, the tool-call rate), which the
	// summary must still report: "no significant difference" over a
	// tool-call rate that halved would be false.
	abAdjust(rep.Metrics, rep.Categories)
	cand, base, shifts := judgeAB(rep.Metrics, alpha)
	// A category's wins for the candidate do not make it the winner (its
	// overall rows say how it does on the traffic it would get); its
	// regressions do count against it.
	_, catBase, catShifts := judgeAB(rep.Categories, alpha)
	base = append(base, catBase...)
	for _, sh := range catShifts {
		// A category's change of length follows the overall one and
		// filled the summary; its tool-call rate's is its own news.
		if strings.HasPrefix(sh, "tool_call_rate ") {
			shifts = append(shifts, sh)
		}
	}
	switch {
	case len(cand) > 0 && len(base) > 0:
		rep.Winner = "mixed"
		rep.Summary = fmt.Sprintf("mixed: the candidate is better on %s and worse on %s", strings.Join(cand, ", "), strings.Join(base, ", "))
	case len(cand) > 0:
		rep.Winner = "candidate"
		rep.Summary = "the candidate wins on " + strings.Join(cand, ", ")
	case len(base) > 0:
		rep.Winner = "baseline"
		rep.Summary = "the baseline wins: the candidate is worse on " + strings.Join(base, ", ")
	case len(shifts) > 0:
		rep.Winner = "no difference"
		rep.Summary = fmt.Sprintf("neither arm wins at alpha %g after %d and %d requests", alpha, b.Requests, c.Requests)
	default:
		rep.Winner = "no difference"
		rep.Summary = fmt.Sprintf("no significant difference at alpha %g after %d and %d requests", alpha, b.Requests, c.Requests)
	}
	if rep.Winner == "no difference" {
		rep.Summary += equivalenceSummary(rep)
	}
	if len(shifts) > 0 {
		rep.Summary += "; changed, favouring neither arm: " + strings.Join(shifts, ", ")
	}
	return rep
}

// equivalenceSummary tells, for a report without a winner, "no difference
// that matters" from "too little data to tell": the arms are equivalent
// when every all-traffic row's simultaneous interval lies within its margin,
// and otherwise it names the rows whose interval spans a margin or lies
// beyond it. The claim that all rows are within would need no correction
// (each must hold), but each row's label is read as a claim of its own
// ("latency within", "errors beyond"), and the summary must agree with the
// labels, so both use the simultaneous intervals. The category rows are not required to
// be within, as the canary analysis does not require them to pass.
func equivalenceSummary(rep Report) string {
	if len(rep.Metrics) == 0 {
		return ""
	}
	var undecided, beyond, shifted []string
	for _, m := range rep.Metrics {
		switch m.Equivalence {
		case "within":
		case "beyond":
			// A significant change that favours neither arm (a length,
			// the tool-call rate) is significant; the others beyond the
			// margin without a winner are not, after the correction.
			if m.Winner != "no difference" {
				shifted = append(shifted, m.Name())
			} else {
				beyond = append(beyond, m.Name())
			}
		default:
			undecided = append(undecided, m.Name())
		}
	}
	if len(undecided) == 0 && len(beyond) == 0 && len(shifted) == 0 {
		return "; equivalent within the analysis thresholds on every metric"
	}
	var s string
	if len(undecided) > 0 {
		s = "; not enough data to rule out a change beyond the threshold on " + strings.Join(undecided, ", ")
		if f := moreSample(rep.Metrics); f > 1 {
			s += fmt.Sprintf(" (about %d and %d more requests would be needed at this variance, if the estimates held)",
				moreRequests(f, rep.BaselineN), moreRequests(f, rep.CandidateN))
		}
	}
	if len(shifted) > 0 {
		s += "; changed beyond the threshold: " + strings.Join(shifted, ", ")
	}
	if len(beyond) > 0 {
		s += "; beyond the threshold but not significant after the Holm correction: " + strings.Join(beyond, ", ")
	}
	return s
}

// moreSample projects the factor by which both arms' samples would have to
// grow for every undecided row's interval to fit within its margin if the
// estimate and the variance held (an interval's half-width shrinks as
// 1/√n), as Verdict.NeedSamples projects the canary's; 0 when some row
// cannot get there (its estimate is at or past the margin, or its interval
// is unbounded), so the summary gives no figure rather than a wrong one.
func moreSample(ms []ABMetric) float64 {
	f := 1.0
	for _, m := range ms {
		if m.Equivalence != "undecided" {
			continue
		}
		width := math.Max(m.AdjustedUpper-m.Diff, m.Diff-m.AdjustedLower)
		room := m.Margin - math.Abs(m.Diff)
		if !(room > 0) || !(width > 0) || math.IsInf(width, 0) {
			return 0
		}
		f = math.Max(f, (width/room)*(width/room))
	}
	return f
}

// moreRequests is how many requests an arm of n needs beyond n to grow by
// the factor f, capped at a billion.
func moreRequests(f float64, n int) int {
	return int(math.Min(math.Ceil((f-1)*float64(n)), 1e9))
}

// equivalence compares the interval [lo, hi] of a difference with ±margin
// (ABMetric.Equivalence); a NaN bound is undecided.
func equivalence(lo, hi, margin float64) string {
	switch {
	case lo >= -margin && hi <= margin:
		return "within"
	case lo > margin || hi < -margin:
		return "beyond"
	}
	return "undecided"
}

// abMetrics compares arms b and c on every metric both have data for, at
// least minN a side (the rate's denominator, the values of a mean);
// category is "" for all traffic. The rows' AdjustedP and Winner are set by
// judgeAB.
func abMetrics(b, c Arm, category string, minN int, alpha float64, th sluice.Thresholds) []ABMetric {
	var ms []ABMetric
	rate := func(def *metricDef, xb, nb, xc, nc int) {
		eb, ec := effectiveRate(def, b.Conversations, xb, nb), effectiveRate(def, c.Conversations, xc, nc)
		if eb.N >= minN && ec.N >= minN {
			// On the counts corrected for conversations (cluster.go).
			m := abRate(def.name, eb.X, eb.N, ec.X, ec.N, alpha)
			rel, abs := limits(th, def)
			m.Margin, _ = rateThreshold(def, m.Baseline, rel, abs)
			m.Equivalence = equivalence(m.Lower, m.Upper, m.Margin)
			ms = append(ms, m)
		}
	}
	if b.Requests > 0 && c.Requests > 0 {
		// As in Analyze: errors over the requests that finished, and the
		// cancels on their own, so an arm that hangs until its clients
		// give up cannot win on a diluted error rate.
		rate(&mErrors, b.Errors, max(b.Requests-b.Canceled, 0), c.Errors, max(c.Requests-c.Canceled, 0))
		rate(&mCancels, b.Canceled, b.Requests, c.Canceled, c.Requests)
		rate(&mRefusals, b.Refusals, max(b.Requests-b.Errors-b.Canceled, 0), c.Refusals, max(c.Requests-c.Errors-c.Canceled, 0))
	}
	if b.CacheReported > 0 && c.CacheReported > 0 {
		rate(&mCacheMiss, b.CacheReported-b.CacheHits, b.CacheReported, c.CacheReported-c.CacheHits, c.CacheReported)
	}
	// As in Analyze: over the answers to requests that offered tools, and
	// only when both arms had such answers.
	if b.ToolAnswers > 0 && c.ToolAnswers > 0 {
		rate(&mToolCalls, b.ToolCalls, b.ToolAnswers, c.ToolCalls, c.ToolAnswers)
	}
	// Each mean's margin is the threshold of the analysis metric named
	// def: the latency quantiles' relative threshold for the latency and
	// TTFT means.
	for _, m := range []struct {
		name string
		def  *metricDef
		b, c []float64
	}{
		{"latency_mean", &mP50, b.Latency, c.Latency},
		{"ttft_mean", &mTTFT, b.TTFT, c.TTFT},
		{"output_tokens", &mTokens, b.OutputTokens, c.OutputTokens},
		{"response_chars", &mChars, b.ResponseChars, c.ResponseChars},
	} {
		if row, ok := abMeanRow(m.name, m.def, m.b, m.c, minN, alpha, th); ok {
			ms = append(ms, row)
		}
	}
	if b.QualityBySource == nil || c.QualityBySource == nil {
		if row, ok := abMeanRow("quality", &mQuality, b.Quality, c.Quality, minN, alpha, th); ok {
			ms = append(ms, row)
		}
	} else {
		for _, src := range slices.Sorted(maps.Keys(b.QualityBySource)) {
			if row, ok := abMeanRow("quality", &mQuality, b.QualityBySource[src], c.QualityBySource[src], minN, alpha, th); ok {
				row.Source = src
				ms = append(ms, row)
			}
		}
	}
	for i := range ms {
		ms[i].Category = category
	}
	return ms
}

// abMeanRow compares the means of b and c on metric name (its margin the
// threshold of def), when both have at least minN values, and two at
// least: Welch's test needs two values in each arm; NaNs (scores that
// could not be read) do not count.
func abMeanRow(name string, def *metricDef, b, c []float64, minN int, alpha float64, th sluice.Thresholds) (ABMetric, bool) {
	if n := max(2, minN); stats.Summarize(b).N < n || stats.Summarize(c).N < n {
		return ABMetric{}, false
	}
	rel, abs := limits(th, def)
	return abMean(name, b, c, alpha, rel, abs), true
}

// Name is the row's metric as the summary and the CLI name it: the
// metric, and the source of a quality row ("quality (feedback)").
func (m ABMetric) Name() string {
	if m.Source != "" {
		return m.Metric + " (" + m.Source + ")"
	}
	return m.Metric
}

// MarshalJSON writes the row as its fields say, but leaves out
// adjusted_lower and adjusted_upper when it has no simultaneous interval
// (AdjustedLevel 0: a report stored before they were computed, read back
// by the API): written as 0 and 0 they read as the interval [0, 0], which
// lies within any margin. A new row always has its level, and a bound of
// 0 is then written (two constant, equal arms).
func (m ABMetric) MarshalJSON() ([]byte, error) {
	type plain ABMetric // its fields without this method
	if m.AdjustedLevel > 0 {
		return json.Marshal(plain(m))
	}
	return json.Marshal(struct {
		plain
		// The shallower fields of the same names win, and are omitted.
		AdjustedLower *float64 `json:"adjusted_lower,omitempty"`
		AdjustedUpper *float64 `json:"adjusted_upper,omitempty"`
	}{plain: plain(m)})
}

// abFamilyAlphas returns the level at which each all-traffic row and each
// category row is compared for the family of nOverall and nCats rows to
// keep its error at alpha: alpha times the row's weight in abAdjust's
// Holm procedure, so that the simultaneous intervals are the Bonferroni
// intervals of the same family (a weighted Bonferroni test rejects what
// they exclude, and Holm's step-down rejects at least that).
func abFamilyAlphas(alpha float64, nOverall, nCats int) (overall, cat float64) {
	wOverall, wCat := abWeights(nOverall, nCats)
	if nOverall > 0 {
		overall = alpha * wOverall / float64(nOverall)
	}
	if nCats > 0 {
		cat = alpha * wCat / float64(nCats)
	}
	return overall, cat
}

// abWeights are the shares of alpha the all-traffic rows and the category
// rows have between them: overallShare and the rest, or all of it for one
// group when the other is empty.
func abWeights(nOverall, nCats int) (overall, cat float64) {
	switch {
	case nCats == 0:
		return 1, 0
	case nOverall == 0:
		return 0, 1
	}
	return overallShare, 1 - overallShare
}

// simultaneous copies, into each row of rows, the interval and the
// equivalence of the same row of sim (computed at the row's share of
// alpha, the confidence level), as its adjusted interval.
func simultaneous(rows, sim []ABMetric, level float64) {
	for i := range rows {
		if i >= len(sim) || sim[i].Name() != rows[i].Name() || sim[i].Category != rows[i].Category {
			panic("analysis: the simultaneous rows differ from the report's") // abMetrics's rows do not depend on alpha
		}
		rows[i].AdjustedLower, rows[i].AdjustedUpper = sim[i].Lower, sim[i].Upper
		rows[i].AdjustedLevel = level
		rows[i].Equivalence = sim[i].Equivalence
	}
}

// abAdjust sets the AdjustedP of the overall rows and the category rows,
// one family under Holm's weighted procedure, as Analyze adjusts its rows:
// the overall rows share overallShare of alpha, the category rows the
// rest (all of it when the other group is empty). Two families, each at
// alpha, let a report name a false winner with a chance of up to twice
// alpha; one keeps it at alpha, and the overall rows are not diluted by
// the number of categories.
func abAdjust(overall, cats []ABMetric) {
	wOverall, wCat := abWeights(len(overall), len(cats))
	ps := make([]float64, 0, len(overall)+len(cats))
	ws := make([]float64, 0, len(overall)+len(cats))
	for i := range overall {
		ps = append(ps, overall[i].PValue)
		ws = append(ws, wOverall/float64(len(overall)))
	}
	for i := range cats {
		ps = append(ps, cats[i].PValue)
		ws = append(ws, wCat/float64(len(cats)))
	}
	adj := stats.HolmWeighted(ps, ws)
	for i := range overall {
		overall[i].AdjustedP = adj[i]
	}
	for i := range cats {
		cats[i].AdjustedP = adj[len(overall)+i]
	}
}

// judgeAB sets each row's Winner from its AdjustedP (abAdjust), and
// returns the rows each arm wins and the significant changes that favour
// neither, named for the summary (with their category, if any).
func judgeAB(ms []ABMetric, alpha float64) (cand, base, shifts []string) {
	for i := range ms {
		m := &ms[i]
		p := m.AdjustedP
		m.Winner = "no difference"
		if p > alpha || m.Diff == 0 {
			continue
		}
		name := m.Name()
		if m.Category != "" {
			name += " in category " + m.Category
		}
		higher := m.Diff > 0
		switch m.Metric {
		case "output_tokens", "response_chars":
			m.Winner = map[bool]string{true: "longer", false: "shorter"}[higher]
			shifts = append(shifts, name+" "+m.Winner)
			continue
		case "tool_call_rate":
			// Neither direction is better, as for the lengths: the
			// analysis fails a change either way.
			m.Winner = map[bool]string{true: "higher", false: "lower"}[higher]
			shifts = append(shifts, name+" "+m.Winner)
			continue
		case "quality":
			m.Winner = map[bool]string{true: "candidate", false: "baseline"}[higher]
		default: // rates and latencies: lower is better
			m.Winner = map[bool]string{true: "baseline", false: "candidate"}[higher]
		}
		if m.Winner == "candidate" {
			cand = append(cand, name)
		} else {
			base = append(base, name)
		}
	}
	return cand, base, shifts
}

func abRate(name string, xb, nb, xc, nc int, alpha float64) ABMetric {
	r := stats.TwoProportion(xb, nb, xc, nc, alpha)
	return ABMetric{
		Metric: name, Baseline: r.BaselineRate, Candidate: r.CandidateRate, BaselineN: nb, CandidateN: nc,
		Diff: r.Diff, Lower: r.Newcombe.Lo, Upper: r.Newcombe.Hi,
		EffectSize: r.Diff, EffectKind: "difference", PValue: r.PValue, Test: "two-proportion z",
	}
}

// abMean compares the means of b and c by Welch's t test. Its margin is the
// larger of rel times the baseline's mean and abs: abs for quality (rel
// zero), rel's alone for lengths (abs zero), either for latency (the ms
// floor).
func abMean(name string, b, c []float64, alpha, rel, abs float64) ABMetric {
	sb, sc := stats.Summarize(b), stats.Summarize(c)
	w := stats.WelchT(sb, sc, alpha)
	m := ABMetric{
		Metric: name, Baseline: sb.Mean, Candidate: sc.Mean, BaselineN: sb.N, CandidateN: sc.N, Diff: sc.Mean - sb.Mean,
		Lower: w.CI.Lo, Upper: w.CI.Hi, EffectSize: stats.CohensD(sb, sc), EffectKind: "cohens_d",
		PValue: w.PValue, Test: "Welch t", MannWhitneyP: stats.MannWhitneyU(b, c).PValue,
	}
	m.Margin = max(rel*math.Abs(sb.Mean), abs)
	m.Equivalence = equivalence(m.Lower, m.Upper, m.Margin)
	if !w.Valid { // both constant: equal or certainly different
		m.Lower, m.Upper, m.PValue = m.Diff, m.Diff, 1
		if m.Diff != 0 {
			m.PValue = 0
		}
		// A known difference on a handful of values says little about
		// the next ones (ten perfect scores a side), so it decides only
		// with minTestSample a side, as the canary analysis's constant
		// means; quality scores get the interval the variance of a [0, 1]
		// score with their mean allows, as the canary analysis floors it.
		m.Equivalence = "undecided"
		switch {
		case name == "quality":
			fw := stats.WelchT(floorScoreVariance(sb), floorScoreVariance(sc), alpha)
			if fw.Valid {
				m.Equivalence = equivalence(fw.CI.Lo, fw.CI.Hi, m.Margin)
			}
		case sb.N >= minTestSample && sc.N >= minTestSample:
			m.Equivalence = equivalence(m.Diff, m.Diff, m.Margin)
		}
	}
	if math.IsInf(m.Lower, 0) || math.IsInf(m.Upper, 0) {
		m.Lower, m.Upper = m.Diff, m.Diff
		m.Equivalence = "undecided"
	}
	return m
}
