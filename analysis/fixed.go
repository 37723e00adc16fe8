package analysis

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/stats"
)

// FixedGateSpec is the naive canary gate that Argo Rollouts and Flagger users
// write: fixed limits on the candidate's own metrics, checked every interval
// on the candidate alone, with no baseline and no statistics. It exists to
// be compared with Analyze. A zero limit is not checked.
type FixedGateSpec struct {
	// MaxErrorRate is the highest acceptable error rate, such as 0.01, over
	// the requests that finished (canceled ones left out, as in Analyze).
	MaxErrorRate float64 `json:"max_error_rate,omitempty" yaml:"max_error_rate,omitempty"`
	// MaxCancelRate is the highest acceptable share of requests whose
	// client left before the answer, such as 0.05: the one limit that sees
	// a candidate hanging until its clients give up.
	MaxCancelRate float64 `json:"max_cancel_rate,omitempty" yaml:"max_cancel_rate,omitempty"`
	// MaxRefusalRate is the highest acceptable share of answers that are
	// refusals.
	MaxRefusalRate float64 `json:"max_refusal_rate,omitempty" yaml:"max_refusal_rate,omitempty"`
	// MinToolCallRate and MaxToolCallRate bound the tool-call rate: the
	// share of the answers to requests that offered tools that called a
	// tool, such as 0.6 and 0.95. A fine-tune that answers in prose where
	// it should call transfer_funds falls below the minimum; one that calls
	// tools where it should answer rises above the maximum. They are
	// checked only on a window in which the candidate answered requests
	// that offered tools (as latency limits need answers).
	MinToolCallRate float64 `json:"min_tool_call_rate,omitempty" yaml:"min_tool_call_rate,omitempty"`
	MaxToolCallRate float64 `json:"max_tool_call_rate,omitempty" yaml:"max_tool_call_rate,omitempty"`
	// MaxLatencyP95MS and MaxLatencyP99MS are the highest acceptable
	// latency quantiles in milliseconds.
	MaxLatencyP95MS float64 `json:"max_latency_p95_ms,omitempty" yaml:"max_latency_p95_ms,omitempty"`
	MaxLatencyP99MS float64 `json:"max_latency_p99_ms,omitempty" yaml:"max_latency_p99_ms,omitempty"`
	// MinRequests is how many candidate requests a check needs before it
	// judges (Argo's count); below it the check is inconclusive.
	MinRequests int `json:"min_requests,omitempty" yaml:"min_requests,omitempty"`
	// Window is how far back each check looks, as the range of a PromQL
	// query such as rate(errors[1m]); zero means everything since the
	// candidate went live. FixedGate judges whatever Arm it is given: the
	// caller selects the window.
	Window sluice.Duration `json:"window,omitempty" yaml:"window,omitempty"`
}

// FixedGate checks the candidate's metrics over one window against the
// fixed limits of g: it fails when any limit is exceeded (or a minimum not
// reached), passes when none is, and is inconclusive below g.MinRequests.
// The verdict's rows carry the limit as Threshold and zero for the
// baseline, which the gate never looks at.
func FixedGate(g FixedGateSpec, cand Arm) sluice.Verdict {
	v := sluice.Verdict{Outcome: sluice.OutcomePass, CandidateN: cand.Requests, NeedSamples: g.MinRequests}
	var lat []float64
	if g.MaxLatencyP95MS > 0 || g.MaxLatencyP99MS > 0 {
		lat = cand.Latency
		if !cand.Sorted {
			lat = sortedCopy(lat)
		}
	}
	var over []string
	// check compares value with an upper limit, or with a lower one when
	// floor is set.
	check := func(name, words string, value, limit float64, floor bool, show func(float64) string, n int) {
		if limit <= 0 {
			return
		}
		mv := sluice.MetricVerdict{Metric: name, Outcome: sluice.OutcomePass, Candidate: value, Effect: value, Threshold: limit, Unit: "absolute", CandidateN: n, PValue: 1}
		kind, side := "limit", "above"
		if floor {
			kind, side = "minimum", "below"
		}
		if !floor && value > limit || floor && value < limit {
			mv.Outcome = sluice.OutcomeFail
			over = append(over, fmt.Sprintf("%s %s %s the %s %s", words, show(value), side, kind, show(limit)))
		}
		mv.Detail = fmt.Sprintf("%s %s, %s %s", words, show(value), kind, show(limit))
		v.Metrics = append(v.Metrics, mv)
	}
	ms := func(x float64) string { return fmt.Sprintf("%.0f ms", x) }
	answered := max(cand.Requests-cand.Errors-cand.Canceled, 0)
	finished := max(cand.Requests-cand.Canceled, 0)
	check(mErrors.name, mErrors.words, ratio(cand.Errors, finished), g.MaxErrorRate, false, pct, finished)
	check(mCancels.name, mCancels.words, ratio(cand.Canceled, cand.Requests), g.MaxCancelRate, false, pct, cand.Requests)
	check(mRefusals.name, mRefusals.words, ratio(cand.Refusals, answered), g.MaxRefusalRate, false, pct, answered)
	if cand.ToolAnswers > 0 {
		rate := ratio(cand.ToolCalls, cand.ToolAnswers)
		check(mToolCalls.name, mToolCalls.words, rate, g.MinToolCallRate, true, pct, cand.ToolAnswers)
		check(mToolCalls.name, mToolCalls.words, rate, g.MaxToolCallRate, false, pct, cand.ToolAnswers)
	}
	if len(lat) > 0 {
		check(mP95.name, mP95.words, stats.Quantile(lat, 0.95), g.MaxLatencyP95MS, false, ms, len(lat))
		check(mP99.name, mP99.words, stats.Quantile(lat, 0.99), g.MaxLatencyP99MS, false, ms, len(lat))
	}
	switch {
	case cand.Requests < g.MinRequests:
		v.Outcome = sluice.OutcomeInconclusive
		v.Reason = fmt.Sprintf("collecting data: %d of %d candidate requests in the window", cand.Requests, g.MinRequests)
		for i := range v.Metrics {
			v.Metrics[i].Outcome = sluice.OutcomeInconclusive
		}
	case len(over) > 0:
		v.Outcome = sluice.OutcomeFail
		v.Reason = strings.Join(over, "; ")
	default:
		v.Reason = fmt.Sprintf("every limit met over %d candidate requests", cand.Requests)
	}
	return v
}

// Since returns the part of a window that a FixedGateSpec looks at: from
// now − g.Window on, or since when the window is zero.
func (g FixedGateSpec) Since(since, now time.Time) time.Time {
	if g.Window <= 0 {
		return since
	}
	if from := now.Add(-g.Window.D()); from.After(since) {
		return from
	}
	return since
}
