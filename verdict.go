package sluice

import "time"

// Outcome is the result of an analysis, overall or for one metric.
type Outcome string

// The outcomes.
const (
	// OutcomePass: the evidence says the candidate is no worse than the
	// baseline by more than the threshold.
	OutcomePass Outcome = "pass"
	// OutcomeFail: the evidence says the candidate is worse by more than
	// the threshold.
	OutcomeFail Outcome = "fail"
	// OutcomeInconclusive: not enough evidence either way yet.
	OutcomeInconclusive Outcome = "inconclusive"
)

// MetricVerdict is the comparison of one metric, overall or in one request
// category.
type MetricVerdict struct {
	// Metric names it: error_rate, cancel_rate, refusal_rate, latency_p50,
	// latency_p95, latency_p99, ttft, output_tokens, response_chars, quality,
	// cache_miss_rate, tool_call_rate, prom:NAME.
	Metric string `json:"metric"`
	// Category is the request category, "" for all traffic.
	Category string `json:"category,omitempty"`
	// Source, on a quality row, names the one source of scores it
	// compares (feedback, heuristic, judge, other); "" is every score
	// together. A row with a Source is a guard: it fails a candidate
	// significantly worse on it, and a lack of data there never holds
	// back a pass (feedback comes for few answers).
	Source string `json:"source,omitempty"`
	// Guard is set on a row that can fail the candidate but whose lack of
	// data never holds back a pass: a metric named in analysis.guards, or
	// a quality source's row.
	Guard bool `json:"guard,omitempty"`
	// Outcome is this metric's result.
	Outcome Outcome `json:"outcome"`
	// Baseline and Candidate are the metric's values (rates as fractions,
	// latencies in ms).
	Baseline  float64 `json:"baseline"`
	Candidate float64 `json:"candidate"`
	// Effect is the candidate's change, relative (0.2 = +20%) or absolute
	// as Unit says; Lower and Upper bound it (anytime-valid interval).
	Effect float64 `json:"effect"`
	Lower  float64 `json:"lower"`
	Upper  float64 `json:"upper"`
	// Threshold is the largest acceptable degradation, in Effect's units.
	Threshold float64 `json:"threshold"`
	// ThresholdMS is set on a latency or TTFT row when its absolute floor
	// (analysis.thresholds.latency_abs_ms) is above its relative
	// threshold: the floor, in ms, that Threshold is relative to the
	// baseline's value. Zero otherwise.
	ThresholdMS float64 `json:"threshold_ms,omitempty"`
	// Unit is "relative" or "absolute".
	Unit string `json:"unit"`
	// PValue is the always-valid p-value for "the candidate is worse",
	// after the multiple-comparison correction.
	PValue float64 `json:"p_value"`
	// BaselineN and CandidateN are the sample sizes.
	BaselineN  int `json:"baseline_n"`
	CandidateN int `json:"candidate_n"`
	// Detail says in words what was found.
	Detail string `json:"detail,omitempty"`
}

// Name is the row's metric as people read it: the metric, and the source of
// a quality row's scores, which is always a guard ("quality (feedback,
// guard)"), or, on a metric named in analysis.guards, that it is a guard
// ("latency_p99 (guard)"). A source's row read "quality (feedback)" beside
// "latency_p99 (guard)", as if only the latter could be passed without.
func (mv MetricVerdict) Name() string {
	switch {
	case mv.Source != "":
		return mv.Metric + " (" + mv.Source + ", guard)"
	case mv.Guard:
		return mv.Metric + " (guard)"
	}
	return mv.Metric
}

// Verdict is one analysis of a candidate against its baseline.
type Verdict struct {
	// At is when the analysis ran.
	At time.Time `json:"at"`
	// Outcome is fail if any metric failed (in any category), pass if every
	// all-traffic metric passed and none failed, else inconclusive.
	Outcome Outcome `json:"outcome"`
	// Reason sums it up for people, naming the failing metric and category.
	Reason string `json:"reason"`
	// BaselineN and CandidateN are the requests analysed.
	BaselineN  int `json:"baseline_n"`
	CandidateN int `json:"candidate_n"`
	// NeedSamples is the candidate sample the analysis needs before it can
	// pass (the minimum sample, or the planned sample size), for progress.
	NeedSamples int `json:"need_samples"`
	// Metrics holds each comparison.
	Metrics []MetricVerdict `json:"metrics"`
}
