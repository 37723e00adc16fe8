package promgate

import (
	"fmt"
	"math"
	"strings"

	"github.com/sluicehq/sluice"
)

// MetricPrefix starts the metric name of a gate's row in a verdict:
// "prom:" followed by the gate's name.
const MetricPrefix = "prom:"

// Result is one evaluation of a gate.
type Result struct {
	// Gate is the gate evaluated.
	Gate sluice.PromGate
	// Query is the query sent, with the template filled in ("" when the
	// template failed).
	Query string
	// Value is the query's value, when there was one.
	Value float64
	// NoData is set when the query returned nothing or NaN.
	NoData bool
	// Err says why the gate could not be evaluated ("" when it could):
	// Prometheus unreachable, a timeout, a rejected query, a result of
	// several series.
	Err string
}

// Judge turns a gate's result into its row of the verdict: pass within
// [Min, Max] (bounds included), fail outside, inconclusive with no data
// or an error. The row's Candidate is the value; Threshold, Lower and Upper
// are the bounds (Threshold the one that was crossed, else Max, else Min),
// a bound the gate does not have being unbounded (−Inf or +Inf, null in
// JSON) rather than 0.
func Judge(res Result) sluice.MetricVerdict {
	g := res.Gate
	mv := sluice.MetricVerdict{Metric: MetricPrefix + g.Name, Unit: "absolute", Outcome: sluice.OutcomeInconclusive,
		Lower: math.Inf(-1), Upper: math.Inf(1)}
	if g.Min != nil {
		mv.Lower, mv.Threshold = *g.Min, *g.Min
	}
	if g.Max != nil {
		mv.Upper, mv.Threshold = *g.Max, *g.Max
	}
	switch {
	case res.Err != "":
		mv.Detail = "query failed: " + res.Err
		return mv
	case res.NoData || math.IsNaN(res.Value):
		mv.Detail = "no data yet (an empty result or NaN): the stage waits for it; query: " + res.Query
		return mv
	}
	x := res.Value
	// JSON has no infinities: show the largest finite number instead. This
	// is a measured value, not the end of an interval, so it is not null
	// (which would read as "no value" and lose the sign); the detail says
	// +Inf or -Inf.
	mv.Candidate = math.Max(-math.MaxFloat64, math.Min(math.MaxFloat64, x))
	mv.Effect = mv.Candidate
	switch {
	case g.Max != nil && x > *g.Max:
		mv.Outcome, mv.Threshold = sluice.OutcomeFail, *g.Max
		mv.Detail = fmt.Sprintf("%.4g is above max %.4g; query: %s", x, *g.Max, res.Query)
	case g.Min != nil && x < *g.Min:
		mv.Outcome, mv.Threshold = sluice.OutcomeFail, *g.Min
		mv.Detail = fmt.Sprintf("%.4g is below min %.4g; query: %s", x, *g.Min, res.Query)
	default:
		mv.Outcome = sluice.OutcomePass
		mv.Detail = fmt.Sprintf("%.4g is within %s; query: %s", x, bounds(g), res.Query)
	}
	return mv
}

// FailReason says why a gate's failing row failed, in the words a
// verdict's reason and an A/B test's guardrail use: the gate and its value
// against the bound, without the query.
func FailReason(mv sluice.MetricVerdict) string {
	return fmt.Sprintf("Prometheus gate %q: %s", strings.TrimPrefix(mv.Metric, MetricPrefix), strings.SplitN(mv.Detail, "; query:", 2)[0])
}

func bounds(g sluice.PromGate) string {
	switch {
	case g.Min != nil && g.Max != nil:
		return fmt.Sprintf("[%.4g, %.4g]", *g.Min, *g.Max)
	case g.Min != nil:
		return fmt.Sprintf("min %.4g", *g.Min)
	}
	return fmt.Sprintf("max %.4g", *g.Max)
}

// Merge adds the gates' rows to the statistical verdict v and settles the
// outcome: a gate outside its bounds fails the verdict (and the reason
// names the gate); a gate with no data or an error keeps a passing
// verdict inconclusive, so a stage never advances on a gate it could not
// read; gates that pass leave the outcome to the statistics. It is pure.
func Merge(v sluice.Verdict, results []Result) sluice.Verdict {
	if len(results) == 0 {
		return v
	}
	var fails, waits []string
	for _, res := range results {
		mv := Judge(res)
		v.Metrics = append(v.Metrics, mv)
		name := fmt.Sprintf("Prometheus gate %q", res.Gate.Name)
		switch {
		case mv.Outcome == sluice.OutcomeFail:
			fails = append(fails, FailReason(mv))
		case res.Err != "":
			waits = append(waits, name+" could not be evaluated: "+res.Err)
		case mv.Outcome == sluice.OutcomeInconclusive:
			waits = append(waits, name+" has no data yet")
		}
	}
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "; " + b
	}
	switch {
	case len(fails) > 0 && v.Outcome == sluice.OutcomeFail:
		v.Reason = join(v.Reason, strings.Join(fails, "; "))
	case len(fails) > 0:
		v.Outcome = sluice.OutcomeFail
		v.Reason = strings.Join(fails, "; ")
	case v.Outcome == sluice.OutcomeFail:
		// The statistics failed it; the gates have nothing to add.
	case len(waits) > 0 && v.Outcome == sluice.OutcomePass:
		v.Outcome = sluice.OutcomeInconclusive
		v.Reason = strings.Join(waits, "; ") + " (the statistical analysis passed: " + v.Reason + ")"
	case len(waits) > 0:
		v.Reason = join(v.Reason, strings.Join(waits, "; "))
	case v.Outcome == sluice.OutcomePass:
		v.Reason = join(v.Reason, fmt.Sprintf("%d Prometheus gate(s) within bounds", len(results)))
	}
	return v
}

// Errors returns the errors of the gates that could not be evaluated, each
// naming its gate.
func Errors(results []Result) []string {
	var out []string
	for _, res := range results {
		if res.Err != "" {
			out = append(out, fmt.Sprintf("gate %q: %s", res.Gate.Name, res.Err))
		}
	}
	return out
}
